"""Vision metrics: COCO-style object detection (:class:`ObjectDetectionAvgPrecisionRecall`,
:class:`CommonObjectDetectionMetrics`).

Example:
    >>> from cadence.metrics.vision import ObjectDetectionAvgPrecisionRecall
    >>> ObjectDetectionAvgPrecisionRecall(num_classes=3).compute()
    (-1.0, -1.0)
"""

from cadence.metrics.vision.object_detection_average_precision_recall import (
    CommonObjectDetectionMetrics,
    ObjectDetectionAvgPrecisionRecall,
    coco_tensor_list_to_dict_list,
)

__all__ = ["CommonObjectDetectionMetrics", "ObjectDetectionAvgPrecisionRecall", "coco_tensor_list_to_dict_list"]

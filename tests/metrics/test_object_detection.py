"""COCO object detection metrics against pycocotools' COCOeval on synthetic boxes."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest
import torch

from cadence.metrics import (
    CommonObjectDetectionMetrics,
    ObjectDetectionAvgPrecisionRecall,
    coco_tensor_list_to_dict_list,
)
from cadence.metrics.vision.object_detection_average_precision_recall import box_iou

CLASSES = 3


def synthetic(seed: int, images: int = 9) -> tuple[list[dict[str, torch.Tensor]], list[dict[str, torch.Tensor]]]:
    """Ground truths of all sizes (some crowd) and noisy, duplicated or spurious detections with tied scores."""
    g = torch.Generator().manual_seed(seed)
    y_pred, y = [], []
    for image in range(images):
        count = int(torch.randint(0, 6, (1,), generator=g))
        corner = torch.rand(count, 2, generator=g) * 200
        size = torch.rand(count, 2, generator=g) * torch.tensor([[150.0, 150.0]]) + 4
        boxes = torch.cat([corner, corner + size], dim=1).round()
        labels = torch.randint(0, CLASSES, (count,), generator=g)
        crowd = (torch.rand(count, generator=g) < 0.15).float()
        y.append({"bbox": boxes, "labels": labels, "iscrowd": crowd})
        moved = boxes + torch.randn(count, 4, generator=g) * 6
        spurious = torch.rand(2, 2, generator=g) * 200
        predicted = torch.cat([moved, moved[:1], torch.cat([spurious, spurious + 30], dim=1)]).round()
        predicted_labels = torch.cat([labels, labels[:1], torch.randint(0, CLASSES, (2,), generator=g)])
        scores = (torch.rand(len(predicted), generator=g) * 5).round() / 5  # ties
        if image == 3:
            predicted, predicted_labels, scores = predicted[:0], predicted_labels[:0], scores[:0]
        y_pred.append({"bbox": predicted, "scores": scores, "labels": predicted_labels})
    return y_pred, y


def pycoco(y_pred: list[dict[str, torch.Tensor]], y: list[dict[str, torch.Tensor]]) -> np.ndarray:
    """COCOeval's twelve summary figures."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(box: torch.Tensor) -> list[float]:
        return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]

    images, annotations, detections = [], [], []
    for image, (pred, target) in enumerate(zip(y_pred, y, strict=False)):
        images.append({"id": image})
        for box, label, crowd in zip(target["bbox"], target["labels"], target["iscrowd"], strict=False):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image, "category_id": int(label), "bbox": xywh(box),
                 "area": w * h, "iscrowd": int(crowd)}
            )  # fmt: skip
        for box, label, score in zip(pred["bbox"], pred["labels"], pred["scores"], strict=False):
            detections.append({"image_id": image, "category_id": int(label), "bbox": xywh(box), "score": float(score)})
    truth = COCO()
    truth.dataset = {"images": images, "annotations": annotations, "categories": [{"id": c} for c in range(CLASSES)]}
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(detections), iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return np.asarray(evaluation.stats)


FIGURES = ["AP@50..95", "AP@50", "AP@75", "AP-S", "AP-M", "AP-L", "AR-1", "AR-10", "AR-100", "AR-S", "AR-M", "AR-L"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_common_metrics_match_pycocotools(seed: int) -> None:
    y_pred, y = synthetic(seed)
    metrics = CommonObjectDetectionMetrics(num_classes=CLASSES)
    for start in range(0, len(y), 4):
        metrics.update((y_pred[start : start + 4], y[start : start + 4]))
    result = metrics.compute()
    assert np.allclose([result[name] for name in FIGURES], pycoco(y_pred, y), atol=1e-12)


def test_single_metric_and_state_dict() -> None:
    y_pred, y = synthetic(4)
    metric = ObjectDetectionAvgPrecisionRecall(num_classes=CLASSES, iou_thresholds=[0.5])
    metric.update((y_pred[:5], y[:5]))
    resumed = ObjectDetectionAvgPrecisionRecall(num_classes=CLASSES, iou_thresholds=[0.5])
    resumed.load_state_dict(metric.state_dict())
    resumed.update((y_pred[5:], y[5:]))
    whole = ObjectDetectionAvgPrecisionRecall(num_classes=CLASSES, iou_thresholds=[0.5])
    whole.update((y_pred, y))
    assert resumed.compute() == whole.compute()
    assert whole.compute()[0] == pytest.approx(pycoco(y_pred, y)[1], abs=1e-12)


def test_empty_and_missing_ground_truth() -> None:
    empty_box = {"bbox": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    metric = ObjectDetectionAvgPrecisionRecall(num_classes=2)
    metric.update(([{**empty_box, "scores": torch.zeros(0)}], [empty_box]))
    assert metric.compute() == (-1.0, -1.0)
    metric.update(
        (
            [{**empty_box, "scores": torch.zeros(0)}],
            [{"bbox": torch.tensor([[0.0, 0, 5, 5]]), "labels": torch.tensor([1])}],
        )
    )
    assert metric.compute() == (0.0, 0.0)


def test_iou_and_tensor_lists() -> None:
    iou = box_iou(
        torch.tensor([[0.0, 0, 4, 4], [0, 0, 0, 0]]), torch.tensor([[2.0, 0, 6, 4], [0, 0, 8, 8]]), torch.tensor([0, 1])
    )
    assert torch.allclose(iou, torch.tensor([[8 / 24, 1.0], [0.0, 0.0]]))
    y_pred, y = coco_tensor_list_to_dict_list(
        ([torch.tensor([[0.0, 0, 1, 1, 0.5, 2]])], [torch.tensor([[0.0, 0, 1, 1, 2, 1]])])
    )
    assert y_pred[0]["class"].tolist() == [2.0] and y[0]["iscrowd"].tolist() == [1.0]
    dicts: tuple[list[Any], list[Any]] = ([{"bbox": 1}], [{"bbox": 2}])
    assert coco_tensor_list_to_dict_list(dicts)[0] is dicts[0]


def test_errors() -> None:
    metric = ObjectDetectionAvgPrecisionRecall(num_classes=2)
    with pytest.raises(ValueError, match="same number of samples"):
        metric.update(([{"bbox": None}], []))
    with pytest.raises(ValueError, match="at least one sample"):
        metric.update(([], []))
    with pytest.raises(ValueError, match="'bbox', 'scores' and 'labels' keys"):
        metric.update(([{"bbox": None, "scores": None}], [{"bbox": None, "labels": None}]))
    with pytest.raises(ValueError, match="'bbox', 'labels' and optionally 'iscrowd'"):
        metric.update(([{"bbox": None, "scores": None, "labels": None}], [{"labels": None}]))
    box = torch.tensor([[0.0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        metric.update(
            (
                [{"bbox": box, "scores": torch.ones(1), "labels": torch.tensor([2])}],
                [{"bbox": box, "labels": torch.tensor([0])}],
            )
        )
    with pytest.raises(ValueError, match="NaN"):
        metric.update(
            (
                [{"bbox": box, "scores": torch.tensor([float("nan")]), "labels": torch.tensor([0])}],
                [{"bbox": box, "labels": torch.tensor([0])}],
            )
        )
    with pytest.raises(ValueError, match="area_range must be one of"):
        ObjectDetectionAvgPrecisionRecall(area_range="tiny")
    with pytest.raises(ValueError, match="iou_thresholds values should be between 0 and 1"):
        ObjectDetectionAvgPrecisionRecall(iou_thresholds=[1.5])

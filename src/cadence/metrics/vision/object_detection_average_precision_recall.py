"""COCO-style evaluation of object detectors: :class:`ObjectDetectionAvgPrecisionRecall` (mean average precision
and recall over IoU thresholds) and :class:`CommonObjectDetectionMetrics` (COCO's twelve summary figures).

Detections are matched to ground truths image by image with COCO's rules (pycocotools' ``COCOeval``),
without torchvision: boxes are ``(x1, y1, x2, y2)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

import torch

from cadence.distributed import all_gather
from cadence.metrics.mean_average_precision import average_precision, checked_thresholds, precision_recall_steps
from cadence.metrics.metric import Metric as Metric
from cadence.metrics.metric import identity, reduced
from cadence.metrics.metric import reinit__is_reduced as reinit__is_reduced
from cadence.metrics.metric import sync_all_reduce as sync_all_reduce
from cadence.metrics.metric_group import MetricGroup as MetricGroup

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "AreaRange",
    "CommonObjectDetectionMetrics",
    "ObjectDetectionAvgPrecisionRecall",
    "box_iou",
    "coco_tensor_list_to_dict_list",
]

_UNMATCHED, _IGNORED = -1, -2


class AreaRange(Enum):
    """Which objects count, by box area in pixels (COCO's ranges, bounds included).

    Example:
        >>> AreaRange("small").bounds
        (0.0, 1024.0)
    """

    ALL = "all"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"

    @property
    def bounds(self) -> tuple[float, float]:
        """``(least, greatest)`` area."""
        return {"all": (0.0, 1e10), "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)}[
            self.value
        ]


def coco_tensor_list_to_dict_list(output: tuple[list[Any], list[Any]]) -> tuple[list[Any], list[Any]]:
    """Turn per-image ``(N, 6)`` tensors into dicts: ``y_pred`` rows ``(x1, y1, x2, y2, confidence, class)`` into
    ``{"bbox", "confidence", "class"}`` and ``y`` rows ``(x1, y1, x2, y2, class[, iscrowd])`` into
    ``{"bbox", "class"[, "iscrowd"]}``; lists that already hold dicts are returned as they are.

    Example:
        >>> y_pred, y = coco_tensor_list_to_dict_list(([torch.tensor([[0.0, 0, 2, 2, 0.9, 1]])], []))
        >>> sorted(y_pred[0]), y_pred[0]["confidence"]
        (['bbox', 'class', 'confidence'], tensor([0.9000]))
    """
    y_pred, y = output
    if len(y_pred) > 0 and isinstance(y_pred[0], torch.Tensor):
        y_pred = [{"bbox": t[:, :4], "confidence": t[:, 4], "class": t[:, 5]} for t in y_pred]
    if len(y) > 0 and isinstance(y[0], torch.Tensor):
        keys = ("class",) if y[0].shape[1] == 5 else ("class", "iscrowd")
        y = [{"bbox": t[:, :4], **{key: t[:, 4 + i] for i, key in enumerate(keys)}} for t in y]
    return y_pred, y


def box_iou(pred_boxes: torch.Tensor, gt_boxes: torch.Tensor, iscrowd: torch.Tensor) -> torch.Tensor:
    """IoU of every detection ``(P, 4)`` with every ground truth ``(G, 4)``; for a crowd ground truth the
    union is the detection's own area (COCO). Empty boxes give 0.

    Example:
        >>> box_iou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 0, 3, 2]]), torch.tensor([False]))
        tensor([[0.3333]])
    """
    pred_area = (pred_boxes[:, 2] - pred_boxes[:, 0]) * (pred_boxes[:, 3] - pred_boxes[:, 1])
    gt_area = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
    top_left = torch.maximum(pred_boxes[:, None, :2], gt_boxes[None, :, :2])
    bottom_right = torch.minimum(pred_boxes[:, None, 2:], gt_boxes[None, :, 2:])
    sides = (bottom_right - top_left).clamp(min=0)
    intersection = sides[..., 0] * sides[..., 1]
    union = pred_area[:, None] + gt_area[None, :] - intersection
    union = torch.where(iscrowd.bool()[None, :], pred_area[:, None].expand_as(union), union)
    iou = intersection / union
    return torch.nan_to_num(iou, nan=0.0)


def _require_numpy() -> None:
    try:  # NumPy is optional for torch; COCO's matching runs in NumPy
        import numpy  # noqa: F401  # presence check only
    except ImportError as error:
        raise ModuleNotFoundError(
            "ObjectDetectionAvgPrecisionRecall requires numpy to be installed (pip install numpy)."
        ) from error


def _coco_levels(start: float, stop: float, count: int) -> torch.Tensor:
    """COCO's default thresholds, bit for bit (NumPy's float64 ``linspace``): a recall or IoU that lands exactly
    on a level must count as reaching it, as in pycocotools."""
    import numpy as np

    return torch.from_numpy(np.linspace(start, stop, count))


def _areas(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _match(
    ious: NDArray[Any], gt_ignored: NDArray[Any], gt_crowd: NDArray[Any], thresholds: NDArray[Any]
) -> NDArray[Any]:
    """COCO's greedy matching of detections (rows of ``ious``, best first, one class) to ground truths.

    Returns ``(T, P)``: the matched ground truth's index, :data:`_UNMATCHED`, or :data:`_IGNORED` when the
    match is an ignored (crowd or out-of-range) ground truth. A detection prefers a free ground truth that is
    not ignored, then the highest IoU (at least the threshold), then the later ground truth on a tie.
    """
    import numpy as np

    num_thresholds, (num_preds, num_gts) = len(thresholds), ious.shape
    result = np.full((num_thresholds, num_preds), _UNMATCHED, dtype=np.int64)
    taken = np.zeros((num_thresholds, num_gts), dtype=bool)
    # Ignored ground truths rank below every eligible one: shift their IoU down by 2.
    rank_shift = np.where(gt_ignored, -2.0, 0.0)
    for p in range(num_preds):
        eligible = (ious[p][None, :] >= thresholds[:, None]) & ~taken
        value = np.where(eligible, ious[p][None, :] + rank_shift[None, :], -np.inf)
        best = num_gts - 1 - np.argmax(value[:, ::-1], axis=1)
        found = np.isfinite(value[np.arange(num_thresholds), best])
        for t in np.nonzero(found)[0]:
            g = best[t]
            result[t, p] = _IGNORED if gt_ignored[g] else g
            if not gt_crowd[g]:
                taken[t, g] = True
    return result


class ObjectDetectionAvgPrecisionRecall(Metric):
    """Mean average precision and mean average recall of a detector, COCO's way (pycocotools' ``COCOeval``).

    ``update((y_pred, y))`` takes two equally long lists with one dict per image: ``y_pred`` dicts hold
    ``"bbox"`` ``(N, 4)`` boxes ``(x1, y1, x2, y2)``, ``"scores"`` ``(N,)`` and ``"labels"`` ``(N,)``; ``y``
    dicts hold ``"bbox"``, ``"labels"`` and optionally ``"iscrowd"``. Per class and IoU threshold, average
    precision is the mean over ``rec_thresholds`` of the best precision at or beyond each recall, and recall
    is the final recall; :meth:`compute` returns their means ``(AP, AR)`` over classes that have ground truth
    (``(-1.0, -1.0)`` when none has). Crowd ground truths, and those outside ``area_range``, are ignored.

    Args:
        iou_thresholds: default ``0.5, 0.55, ..., 0.95``.
        rec_thresholds: default ``0, 0.01, ..., 1``.
        num_classes: the number of categories (labels are ``0 .. num_classes - 1``).
        max_detections_per_image_per_class: the most confident detections kept per class in each image.
        area_range: ``"all"``, ``"small"``, ``"medium"`` or ``"large"`` (see :class:`AreaRange`).
        output_transform: maps the engine's output to ``(y_pred, y)``, e.g. :func:`coco_tensor_list_to_dict_list`.
        device: where the per-detection results are kept.

    Example:
        >>> metric = ObjectDetectionAvgPrecisionRecall(num_classes=2, iou_thresholds=[0.5])
        >>> y_pred = [{"bbox": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]),
        ...            "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([1, 1])}]
        >>> y = [{"bbox": torch.tensor([[0.0, 0, 10, 11]]), "labels": torch.tensor([1])}]
        >>> metric.update((y_pred, y))
        >>> metric.compute()
        (1.0, 1.0)
    """

    _state_names = ("_tps", "_fps", "_scores", "_y_pred_labels", "_y_true_count")
    _lazy_state_names = frozenset({"_tps", "_fps", "_scores", "_y_pred_labels"})

    def __init__(
        self,
        iou_thresholds: Sequence[float] | torch.Tensor | None = None,
        rec_thresholds: Sequence[float] | torch.Tensor | None = None,
        num_classes: int = 80,
        max_detections_per_image_per_class: int = 100,
        area_range: str | AreaRange = "all",
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}.")
        if not isinstance(max_detections_per_image_per_class, int) or max_detections_per_image_per_class < 1:
            raise ValueError(
                "max_detections_per_image_per_class must be a positive int, "
                f"got {max_detections_per_image_per_class!r}."
            )
        valid = [area.value for area in AreaRange]
        if not isinstance(area_range, AreaRange) and area_range not in valid:
            raise ValueError(f"area_range must be one of {valid}, got {area_range!r}.")
        _require_numpy()
        self._iou_thresholds = checked_thresholds(
            _coco_levels(0.5, 0.95, 10) if iou_thresholds is None else iou_thresholds, "iou_thresholds"
        )
        self.rec_thresholds = checked_thresholds(
            _coco_levels(0.0, 1.0, 101) if rec_thresholds is None else rec_thresholds, "rec_thresholds"
        )
        self._num_classes = num_classes
        self._max_detections_per_image_per_class = max_detections_per_image_per_class
        self._area_range = AreaRange(area_range).value
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {
            "num_classes": self._num_classes,
            "iou_thresholds": self._iou_thresholds.tolist(),
            "area_range": self._area_range,
            "max_detections_per_image_per_class": self._max_detections_per_image_per_class,
        }

    def box_iou(self, pred_boxes: torch.Tensor, gt_boxes: torch.Tensor, iscrowd: torch.Tensor) -> torch.Tensor:
        """See :func:`box_iou`."""
        return box_iou(pred_boxes, gt_boxes, iscrowd)

    def reset(self) -> None:
        """Forget all images seen."""
        self._tps: list[torch.Tensor] = []
        self._fps: list[torch.Tensor] = []
        self._scores: list[torch.Tensor] = []
        self._y_pred_labels: list[torch.Tensor] = []
        self._y_true_count = torch.zeros(self._num_classes, dtype=torch.float64, device=self._device)

    def _in_range(self, boxes: torch.Tensor) -> torch.Tensor:
        least, greatest = AreaRange(self._area_range).bounds
        areas = _areas(boxes)
        return (areas >= least) & (areas <= greatest)

    @staticmethod
    def _check_matching_input(output: Any) -> tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]:
        if not isinstance(output, tuple | list) or len(output) != 2:
            raise TypeError("ObjectDetectionAvgPrecisionRecall.update takes a pair (y_pred, y) of lists of dicts.")
        y_pred, y = output
        if len(y_pred) != len(y):
            raise ValueError(f"y_pred and y should have the same number of samples, given {len(y_pred)} and {len(y)}.")
        if len(y_pred) == 0:
            raise ValueError("y_pred and y should contain at least one sample.")
        for pred, target in zip(y_pred, y, strict=True):
            if not isinstance(pred, Mapping) or not {"bbox", "scores", "labels"} <= pred.keys():
                keys = list(pred.keys()) if isinstance(pred, Mapping) else type(pred).__name__
                raise ValueError(
                    f"y_pred sample dictionaries should have 'bbox', 'scores' and 'labels' keys, given keys: {keys}"
                )
            if not isinstance(target, Mapping) or not {"bbox", "labels"} <= target.keys():
                keys = list(target.keys()) if isinstance(target, Mapping) else type(target).__name__
                raise ValueError(
                    "y sample dictionaries should have 'bbox', 'labels' and optionally 'iscrowd' keys, "
                    f"given keys: {keys}"
                )
        return y_pred, y

    def _checked_labels(self, labels: torch.Tensor, name: str) -> torch.Tensor:
        labels = labels.detach().long().cpu()
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self._num_classes):
            raise ValueError(
                f"{name} labels must be in [0, {self._num_classes - 1}] (num_classes={self._num_classes}), "
                f"got labels from {int(labels.min())} to {int(labels.max())}."
            )
        return labels

    def update(self, output: Any) -> None:
        """Add a batch of images ``(detections, ground_truths)``."""
        y_pred, y = self._check_matching_input(output)
        for pred, target in zip(y_pred, y, strict=True):
            self._add_image(pred, target)

    def _add_image(self, pred: Mapping[str, Any], target: Mapping[str, Any]) -> None:
        import numpy as np

        gt_labels = self._checked_labels(target["labels"], "y")
        gt_boxes = target["bbox"].detach().cpu().double().reshape(-1, 4)
        crowd = target.get("iscrowd")
        gt_crowd = torch.zeros_like(gt_labels, dtype=torch.bool) if crowd is None else crowd.detach().cpu().bool()
        gt_ignored = gt_crowd | ~self._in_range(gt_boxes)
        counts = torch.bincount(gt_labels[~gt_ignored], minlength=self._num_classes)
        self._y_true_count += counts.to(self._y_true_count)
        labels = self._checked_labels(pred["labels"], "y_pred")
        if labels.numel() == 0:
            return
        scores = pred["scores"].detach().cpu()
        if bool(torch.isnan(scores).any()):
            raise ValueError("ObjectDetectionAvgPrecisionRecall: y_pred scores hold NaN, which cannot be ranked.")
        by_score = torch.argsort(scores, descending=True, stable=True)
        keep = torch.cat(
            [
                by_score[labels[by_score] == c][: self._max_detections_per_image_per_class]
                for c in torch.unique(labels).tolist()
            ]
        )
        boxes = pred["bbox"].detach().cpu().double().reshape(-1, 4)[keep]
        labels, scores = labels[keep], scores[keep]
        matched = np.full((len(self._iou_thresholds), len(keep)), _UNMATCHED, dtype=np.int64)
        if gt_labels.numel():
            ious = box_iou(boxes, gt_boxes, gt_crowd).numpy()
            thresholds = self._iou_thresholds.numpy()
            for c in torch.unique(labels).tolist():
                rows, columns = np.nonzero(labels.numpy() == c)[0], np.nonzero(gt_labels.numpy() == c)[0]
                if len(columns):
                    sub = _match(
                        ious[np.ix_(rows, columns)], gt_ignored.numpy()[columns], gt_crowd.numpy()[columns], thresholds
                    )
                    matched[:, rows] = np.where(sub >= 0, columns[np.clip(sub, 0, None)], sub)
        matched_t = torch.from_numpy(matched)
        true_positive = matched_t >= 0
        false_positive = (matched_t == _UNMATCHED) & self._in_range(boxes)[None, :]
        self._tps.append(true_positive.T.to(torch.uint8).to(self._device))
        self._fps.append(false_positive.T.to(torch.uint8).to(self._device))
        self._scores.append(scores.double().to(self._device))
        self._y_pred_labels.append(labels.to(torch.int32).to(self._device))

    def _gathered(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        thresholds = len(self._iou_thresholds)

        def joined(parts: list[torch.Tensor], empty: torch.Tensor) -> torch.Tensor:
            return all_gather(torch.cat(parts) if parts else empty.to(self._device))

        tps = joined(self._tps, torch.zeros(0, thresholds, dtype=torch.uint8))
        fps = joined(self._fps, torch.zeros(0, thresholds, dtype=torch.uint8))
        scores = joined(self._scores, torch.zeros(0, dtype=torch.float64))
        labels = joined(self._y_pred_labels, torch.zeros(0, dtype=torch.int32))
        return tps.T, fps.T, scores, labels, reduced(self._y_true_count)

    def _table(self) -> torch.Tensor:
        """``(2, num_classes, num_iou_thresholds)``: average precision and recall (-1: no ground truth)."""
        tps, fps, scores, labels, counts = self._gathered()
        table = torch.full((2, self._num_classes, len(self._iou_thresholds)), -1.0, dtype=torch.float64)
        for c in torch.nonzero(counts > 0).flatten().tolist():
            chosen = labels == c
            if not bool(chosen.any()):
                table[:, c] = 0.0
                continue
            class_scores = scores[chosen].expand(len(self._iou_thresholds), -1)
            recall, precision = precision_recall_steps(
                class_scores, tps[:, chosen], fps[:, chosen], counts[c].expand(len(self._iou_thresholds)), ties=False
            )
            table[0, c] = average_precision(recall, precision, self.rec_thresholds, interpolated=True).cpu()
            table[1, c] = recall[:, -1].cpu()
        return table

    def compute(self) -> tuple[float, float]:
        """``(mean average precision, mean average recall)`` over classes with ground truth and IoU thresholds."""
        return _means(self._table())


def _means(table: torch.Tensor, column: int | None = None) -> tuple[float, float]:
    chosen = table if column is None else table[:, :, column : column + 1]
    valid = chosen[0] > -1
    if not bool(valid.any()):
        return -1.0, -1.0
    return chosen[0][valid].mean().item(), chosen[1][chosen[1] > -1].mean().item()


class CommonObjectDetectionMetrics(Metric):
    """COCO's summary of a detector: ``AP@50..95``, ``AR-100``, ``AP@50``, ``AP@75``, ``AP-S``/``AR-S``,
    ``AP-M``/``AR-M``, ``AP-L``/``AR-L`` (small, medium, large objects), ``AR-1`` and ``AR-10`` (at most 1 or 10
    detections per class per image), from :class:`ObjectDetectionAvgPrecisionRecall` with COCO's settings.

    Example:
        >>> metrics = CommonObjectDetectionMetrics(num_classes=1)
        >>> y_pred = [{"bbox": torch.tensor([[0.0, 0, 10, 10]]), "scores": torch.tensor([0.9]),
        ...            "labels": torch.tensor([0])}]
        >>> metrics.update((y_pred, [{"bbox": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([0])}]))
        >>> result = metrics.compute()
        >>> result["AP@50..95"], result["AP-S"], result["AP-L"]
        (1.0, 1.0, -1.0)
    """

    _state_names = ("_metric_states",)

    def __init__(
        self,
        num_classes: int = 80,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = True,
    ) -> None:
        def make(**options: Any) -> ObjectDetectionAvgPrecisionRecall:
            return ObjectDetectionAvgPrecisionRecall(num_classes=num_classes, device=device, **options)

        self.ap_50_95 = make()
        self.metrics = {
            "S": make(area_range="small"),
            "M": make(area_range="medium"),
            "L": make(area_range="large"),
            "1": make(max_detections_per_image_per_class=1),
            "10": make(max_detections_per_image_per_class=10),
        }
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    @property
    def _metric_states(self) -> dict[str, Any]:
        return {name: metric.state_dict() for name, metric in self._all().items()}

    @_metric_states.setter
    def _metric_states(self, states: dict[str, Any]) -> None:
        for name, metric in self._all().items():
            metric.load_state_dict(states[name])

    def _all(self) -> dict[str, ObjectDetectionAvgPrecisionRecall]:
        return {"all": self.ap_50_95, **self.metrics}

    def reset(self) -> None:
        """Forget all images seen."""
        for metric in self._all().values():
            metric.reset()

    def update(self, output: Any) -> None:
        """Add a batch of images ``(detections, ground_truths)`` to every figure."""
        for metric in self._all().values():
            metric.update(output)

    def compute(self) -> dict[str, float]:
        """The twelve figures."""
        table = self.ap_50_95._table()
        ap_50_95, ar_100 = _means(table)
        small, medium, large = (self.metrics[key].compute() for key in "SML")
        return {
            "AP@50..95": ap_50_95,
            "AR-100": ar_100,
            "AP@50": _means(table, 0)[0],
            "AP@75": _means(table, 5)[0],
            "AP-S": small[0],
            "AR-S": small[1],
            "AP-M": medium[0],
            "AR-M": medium[1],
            "AP-L": large[0],
            "AR-L": large[1],
            "AR-1": self.metrics["1"].compute()[1],
            "AR-10": self.metrics["10"].compute()[1],
        }

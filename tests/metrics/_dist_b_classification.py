"""Helper B's metrics for the 2-process check: EpochMetric, ranking metrics, kappa, MCC, confusion matrices."""

from __future__ import annotations

from collections.abc import Callable

import torch

from cadence.metrics import (
    AveragePrecision,
    ClassificationReport,
    CohenKappa,
    ConfusionMatrix,
    DiceCoefficient,
    EpochMetric,
    MatthewsCorrCoef,
    Metric,
    MultiLabelConfusionMatrix,
    PrecisionRecallCurve,
    RocCurve,
)
from cadence.metrics.confusion_matrix import cmAccuracy, cmPrecision, cmRecall

CLASSES = 4


def data(n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(23)
    scores = (torch.rand(n, generator=g) * 8).round() / 8  # ties, as real scores have
    labels = torch.randint(0, 2, (n,), generator=g)
    return {
        "b_scores": (scores, labels),
        "b_multilabel_scores": (torch.rand(n, 3, generator=g), torch.randint(0, 2, (n, 3), generator=g)),
        "b_labels": (torch.randint(0, CLASSES, (n,), generator=g), torch.randint(0, CLASSES, (n,), generator=g)),
        "b_multiclass": (torch.randn(n, CLASSES, generator=g), torch.randint(0, CLASSES, (n,), generator=g)),
        "b_multilabel": (torch.randint(0, 2, (n, 3, 2), generator=g), torch.randint(0, 2, (n, 3, 2), generator=g)),
    }


def _rows_seen(y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Every gathered row, in order: the gather must be exact (no padding, no duplicates)."""
    return torch.cat([y_pred.double(), y.double()])


def metrics() -> dict[str, tuple[str, Callable[[], Metric]]]:
    return {
        "b_epoch_metric_rows": ("b_scores", lambda: EpochMetric(_rows_seen, check_compute_fn=False)),
        "b_roc_curve": ("b_scores", RocCurve),
        "b_pr_curve": ("b_scores", PrecisionRecallCurve),
        "b_average_precision": ("b_scores", AveragePrecision),
        "b_average_precision_multilabel": ("b_multilabel_scores", AveragePrecision),
        "b_cohen_kappa": ("b_labels", CohenKappa),
        "b_cohen_kappa_quadratic": ("b_labels", lambda: CohenKappa(weights="quadratic", num_classes=CLASSES)),
        "b_mcc": ("b_multiclass", MatthewsCorrCoef),
        "b_multilabel_confusion_matrix": ("b_multilabel", lambda: MultiLabelConfusionMatrix(3)),
        "b_classification_report": ("b_multiclass", lambda: ClassificationReport(output_dict=True)),
        "b_dice": ("b_multiclass", lambda: DiceCoefficient(ConfusionMatrix(CLASSES), ignore_index=1)),
        "b_cm_accuracy": ("b_multiclass", lambda: cmAccuracy(ConfusionMatrix(CLASSES))),
        "b_cm_precision": ("b_multiclass", lambda: cmPrecision(ConfusionMatrix(CLASSES), average=False)),
        "b_cm_recall": ("b_multiclass", lambda: cmRecall(ConfusionMatrix(CLASSES))),
    }

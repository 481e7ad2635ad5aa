""":func:`ClassificationReport`: precision, recall and F-beta of each class and their macro averages."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import torch

from cadence.metrics.classification import Precision, Recall
from cadence.metrics.metric import MetricsLambda, MetricsResultMode, identity

__all__ = ["ClassificationReport"]


def ClassificationReport(
    beta: int = 1,
    output_dict: bool = False,
    output_transform: Callable[[Any], Any] = identity,
    device: str | torch.device = "cpu",
    is_multilabel: bool = False,
    labels: Sequence[str] | None = None,
    metrics_result_mode: MetricsResultMode | str = MetricsResultMode.BOTH,
) -> MetricsLambda:
    """A report like scikit-learn's ``classification_report``: for each class its ``precision``, ``recall`` and
    ``f{beta}-score``, and their means under ``"macro avg"``.

    Data as for :class:`~cadence.metrics.Precision` (binary data counts as two classes). The value is a
    dict (``output_dict=True``) or its JSON text.

    Args:
        beta: weight of recall in the F score (> 0).
        output_dict: give a dict rather than a JSON string.
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the counts live.
        is_multilabel: the data is multilabel (one report row per label).
        labels: names of the classes, in class order (default: ``"0"``, ``"1"``...).
        metrics_result_mode: how a dict result is written to ``engine.state.metrics`` (see
            :class:`~cadence.metrics.metric.MetricsResultMode`).

    Example:
        >>> report = ClassificationReport(output_dict=True, labels=["cat", "dog"])
        >>> report.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> {name: round(value, 4) for name, value in report.compute()["dog"].items()}
        {'precision': 1.0, 'recall': 0.5, 'f1-score': 0.6667}
    """
    if isinstance(beta, bool) or not isinstance(beta, int | float) or beta <= 0:
        raise ValueError(f"Beta should be a positive integer or float, but given {beta!r}.")
    label_names = None if labels is None else [str(label) for label in labels]
    precision = Precision(output_transform, average=None, is_multilabel=is_multilabel, device=device)
    recall = Recall(output_transform, average=None, is_multilabel=is_multilabel, device=device)
    return MetricsLambda(
        _report, recall, precision, beta, output_dict, label_names, metrics_result_mode=metrics_result_mode
    )


def _report(
    recall: torch.Tensor, precision: torch.Tensor, beta: float, output_dict: bool, labels: list[str] | None
) -> dict[str, dict[str, float]] | str:
    if labels is not None and len(labels) != precision.numel():
        raise ValueError(
            f"ClassificationReport got {len(labels)} labels {labels} for data of {precision.numel()} classes; "
            "give one name per class."
        )
    beta2 = float(beta) ** 2
    fbeta = (1 + beta2) * precision * recall / (beta2 * precision + recall + 1e-15)
    score = f"f{beta}-score"
    report = {
        (labels[index] if labels else str(index)): {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            score: float(fbeta[index]),
        }
        for index in range(precision.numel())
    }
    report["macro avg"] = {
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        score: float(fbeta.mean()),
    }
    return report if output_dict else json.dumps(report)

"""The metric cases of ``tests/test_ignite_parity.py``: how each public metric is built, and the data it reads.

Each entry maps a name to ``(factory, batches)``: ``factory(lib)`` builds the metric with ``lib("metrics")``
(the same arguments in both libraries), ``batches()`` gives the engine outputs it is updated with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Batches = Callable[[], list[Any]]
Factory = Callable[[Any], Any]


def binary_scores() -> list[Any]:
    return [(torch.rand(8), torch.tensor([0, 1] * 4)) for _ in range(2)]


def binary_labels() -> list[Any]:
    return [(torch.randint(0, 2, (8,)), torch.tensor([0, 1] * 4)) for _ in range(2)]


def multiclass() -> list[Any]:
    return [(torch.randn(8, 3), torch.arange(8) % 3) for _ in range(2)]


def multilabel() -> list[Any]:
    return [(torch.randint(0, 2, (8, 3)), torch.randint(0, 2, (8, 3))) for _ in range(2)]


def regression() -> list[Any]:
    return [(torch.rand(8) + 0.5, torch.rand(8) + 0.5) for _ in range(2)]


def pairs() -> list[Any]:
    return [(torch.randn(8, 3), torch.randn(8, 3)) for _ in range(2)]


def images() -> list[Any]:
    return [(torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)) for _ in range(2)]


def values() -> list[Any]:
    return [torch.rand(8) + 0.1 for _ in range(2)]


def scalars() -> list[Any]:
    return [torch.tensor(1.5), torch.tensor(2.5)]


def clusters() -> list[Any]:
    return [(torch.randn(8, 2), torch.arange(8) % 2) for _ in range(2)]


def grouped() -> list[Any]:
    return [(torch.randint(0, 2, (8,)), torch.tensor([0, 1] * 4), torch.tensor([0, 0, 1, 1] * 2)) for _ in range(2)]


def sentences() -> list[Any]:
    return [([["the", "cat", "sat", "down"]], [[["the", "cat", "sat", "here"]]]) for _ in range(2)]


def texts() -> list[Any]:
    return [(["the cat"], ["the bat"]) for _ in range(2)]


def tokens() -> list[Any]:
    return [(torch.randn(2, 4, 5), torch.randint(0, 4, (2, 5))) for _ in range(2)]


def rankings() -> list[Any]:
    return [(torch.rand(4, 6), torch.randint(0, 2, (4, 6))) for _ in range(2)]


def probabilities() -> list[Any]:
    return [torch.softmax(torch.randn(8, 3), dim=1) for _ in range(2)]


def _m(name: str, *args: Any, module: str = "metrics", **kwargs: Any) -> Factory:
    return lambda lib: getattr(lib(module), name)(*args, **kwargs)


METRICS: dict[str, tuple[Factory, Batches]] = {
    "Accuracy": (_m("Accuracy"), multiclass),
    "Accuracy (binary)": (_m("Accuracy"), binary_labels),
    "Precision": (_m("Precision", average=True), multiclass),
    "Precision (per class)": (_m("Precision"), multiclass),
    "Recall": (_m("Recall", average="macro"), multiclass),
    "TopKCategoricalAccuracy": (_m("TopKCategoricalAccuracy", k=2), multiclass),
    "ConfusionMatrix": (_m("ConfusionMatrix", num_classes=3), multiclass),
    "IoU": (lambda lib: lib("metrics").IoU(lib("metrics").ConfusionMatrix(num_classes=3)), multiclass),
    "mIoU": (lambda lib: lib("metrics").mIoU(lib("metrics").ConfusionMatrix(num_classes=3)), multiclass),
    "DiceCoefficient": (
        lambda lib: lib("metrics").DiceCoefficient(lib("metrics").ConfusionMatrix(num_classes=3)),
        multiclass,
    ),
    "ClassificationReport": (_m("ClassificationReport"), multiclass),
    "Fbeta": (_m("Fbeta", 1.0), multiclass),
    "MultiLabelConfusionMatrix": (_m("MultiLabelConfusionMatrix", num_classes=3), multilabel),
    "CohenKappa": (_m("CohenKappa"), binary_labels),
    "MatthewsCorrCoef": (_m("MatthewsCorrCoef"), binary_labels),
    "ROC_AUC": (_m("ROC_AUC"), binary_scores),
    "AveragePrecision": (_m("AveragePrecision"), binary_scores),
    "PrecisionRecallCurve": (_m("PrecisionRecallCurve"), binary_scores),
    "RocCurve": (_m("RocCurve"), binary_scores),
    "EpochMetric": (_m("EpochMetric", lambda p, y: float((p - y).mean()), check_compute_fn=False), regression),
    "Entropy": (_m("Entropy"), multiclass),
    "MutualInformation": (_m("MutualInformation"), multiclass),
    "KLDivergence": (_m("KLDivergence"), pairs),
    "JSDivergence": (_m("JSDivergence"), pairs),
    "HSIC": (_m("HSIC"), pairs),
    "MaximumMeanDiscrepancy": (_m("MaximumMeanDiscrepancy"), pairs),
    "CosineSimilarity": (_m("CosineSimilarity"), pairs),
    "MeanPairwiseDistance": (_m("MeanPairwiseDistance"), pairs),
    "MeanAbsoluteError": (_m("MeanAbsoluteError"), regression),
    "MeanSquaredError": (_m("MeanSquaredError"), regression),
    "RootMeanSquaredError": (_m("RootMeanSquaredError"), regression),
    "PSNR": (_m("PSNR", data_range=1.0), images),
    "SSIM": (_m("SSIM", data_range=1.0), images),
    "Loss": (_m("Loss", nn.CrossEntropyLoss()), multiclass),
    "Average": (_m("Average"), values),
    "GeometricAverage": (_m("GeometricAverage"), values),
    "VariableAccumulation": (_m("VariableAccumulation", lambda acc, x: acc + x.sum()), values),
    "Frequency": (_m("Frequency"), lambda: [5, 7]),
    "RunningAverage": (_m("RunningAverage", output_transform=float), scalars),
    "RunningAverage (src)": (lambda lib: lib("metrics").RunningAverage(lib("metrics").Accuracy()), multiclass),
    "MetricsLambda": (
        lambda lib: lib("metrics").MetricsLambda(
            lambda a, b: a + b, lib("metrics").MeanAbsoluteError(), lib("metrics").MeanSquaredError()
        ),
        regression,
    ),
    "MetricGroup": (
        lambda lib: lib("metrics").MetricGroup(
            {"mae": lib("metrics").MeanAbsoluteError(), "mse": lib("metrics").MeanSquaredError()}
        ),
        regression,
    ),
    "Bleu": (_m("Bleu", ngram=2), sentences),
    "Rouge": (_m("Rouge", variants=[1, "L"]), sentences),
    "RougeN": (_m("RougeN", ngram=2), sentences),
    "RougeL": (_m("RougeL"), sentences),
    "CharacterErrorRate": (_m("CharacterErrorRate"), texts),
    "Perplexity": (_m("Perplexity"), tokens),
    "HitRate": (_m("HitRate", top_k=[1, 2]), rankings),
    "NDCG": (_m("NDCG", top_k=[1, 2]), rankings),
    "FID": (_m("FID", num_features=3, feature_extractor=nn.Identity()), pairs),
    "InceptionScore": (_m("InceptionScore", num_features=3, feature_extractor=nn.Identity()), probabilities),
    "MeanAveragePrecision": (_m("MeanAveragePrecision"), multiclass),
    "SubgroupAccuracyDifference": (_m("SubgroupAccuracyDifference", groups=[0, 1], module="metrics.fairness"), grouped),
    "DemographicParityDifference": (
        _m("DemographicParityDifference", groups=[0, 1], module="metrics.fairness"),
        grouped,
    ),
    "SelectionRate": (_m("SelectionRate", module="metrics.fairness"), binary_labels),
    "SubgroupMetric": (
        lambda lib: lib("metrics.fairness").SubgroupMetric(lib("metrics").Accuracy(), groups=[0, 1]),
        grouped,
    ),
    "SubgroupDifference": (
        lambda lib: lib("metrics.fairness").SubgroupDifference(lib("metrics").Accuracy(), groups=[0, 1]),
        grouped,
    ),
}

for _name in ("SilhouetteScore", "DaviesBouldinScore", "CalinskiHarabaszScore"):
    METRICS[_name] = (_m(_name, module="metrics.clustering"), clusters)

for _name in (
    "CanberraMetric",
    "FractionalAbsoluteError",
    "FractionalBias",
    "GeometricMeanAbsoluteError",
    "GeometricMeanRelativeAbsoluteError",
    "KendallRankCorrelation",
    "ManhattanDistance",
    "MaximumAbsoluteError",
    "MeanAbsoluteRelativeError",
    "MeanError",
    "MeanNormalizedBias",
    "MedianAbsoluteError",
    "MedianAbsolutePercentageError",
    "MedianRelativeAbsoluteError",
    "PearsonCorrelation",
    "R2Score",
    "SpearmanRankCorrelation",
    "WaveHedgesDistance",
):
    METRICS[_name] = (_m(_name, module="metrics.regression"), regression)

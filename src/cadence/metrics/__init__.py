"""Metrics: the :class:`Metric` API (``reset``/``update``/``compute``), usages, and the standard metrics.

Metrics are engine handlers: ``metric.attach(engine, "name")`` resets, updates and publishes the metric
in ``engine.state.metrics["name"]``. Across processes, ``compute()`` gives the value over all data.

Example:
    >>> import torch
    >>> from cadence import Engine
    >>> from cadence.metrics import Accuracy
    >>> evaluator = Engine(lambda engine, batch: batch)
    >>> Accuracy().attach(evaluator, "accuracy")
    >>> batch = (torch.tensor([[0.9, 0.1], [0.3, 0.7]]), torch.tensor([0, 0]))
    >>> evaluator.run([batch]).metrics
    {'accuracy': 0.5}
"""

from cadence.metrics import clustering, fairness
from cadence.metrics import metrics_lambda as metrics_lambda  # Ignite's modules, attributes of the package
from cadence.metrics import roc_auc as roc_auc
from cadence.metrics.accumulation import GeometricAverage, VariableAccumulation
from cadence.metrics.classification import (
    Accuracy,
    Averaging,
    Fbeta,
    Precision,
    Recall,
    TopKCategoricalAccuracy,
)
from cadence.metrics.classification_report import ClassificationReport
from cadence.metrics.cohen_kappa import CohenKappa
from cadence.metrics.confusion_matrix import (
    ConfusionMatrix,
    ConfusionMatrixAverage,
    DiceCoefficient,
    IoU,
    JaccardIndex,
    mIoU,
)
from cadence.metrics.epoch_metric import EpochMetric
from cadence.metrics.gan import FID, InceptionScore
from cadence.metrics.gpu_info import GpuInfo
from cadence.metrics.information import Entropy, JSDivergence, KLDivergence, MutualInformation
from cadence.metrics.kernel_statistics import HSIC, MaximumMeanDiscrepancy
from cadence.metrics.matthews_corrcoef import MatthewsCorrCoef
from cadence.metrics.mean_average_precision import MeanAveragePrecision
from cadence.metrics.metric import Metric, MetricsLambda, MetricsResultMode, NotComputableError
from cadence.metrics.metric_group import MetricGroup
from cadence.metrics.multilabel_confusion_matrix import MultiLabelConfusionMatrix
from cadence.metrics.nlp import Bleu, CharacterErrorRate, Perplexity, Rouge, RougeL, RougeN
from cadence.metrics.pairwise import CosineSimilarity, MeanPairwiseDistance
from cadence.metrics.psnr import PSNR
from cadence.metrics.ranking import ROC_AUC, AveragePrecision, PrecisionRecallCurve, RocCurve, roc_auc_score
from cadence.metrics.rec_sys import NDCG, HitRate
from cadence.metrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score, RootMeanSquaredError
from cadence.metrics.running import Average, Frequency, Loss, RunningAverage
from cadence.metrics.ssim import SSIM
from cadence.metrics.torchmetrics_adapter import TorchMetricsAdapter
from cadence.metrics.usage import (
    BatchFiltered,
    BatchWise,
    EpochWise,
    MetricUsage,
    RunningBatchWise,
    RunningEpochWise,
    SingleEpochRunningBatchWise,
)
from cadence.metrics.vision import (
    CommonObjectDetectionMetrics,
    ObjectDetectionAvgPrecisionRecall,
    coco_tensor_list_to_dict_list,
)

__all__ = [
    "FID",
    "HSIC",
    "NDCG",
    "PSNR",
    "ROC_AUC",
    "SSIM",
    "Accuracy",
    "Average",
    "AveragePrecision",
    "Averaging",
    "BatchFiltered",
    "BatchWise",
    "Bleu",
    "CharacterErrorRate",
    "ClassificationReport",
    "CohenKappa",
    "CommonObjectDetectionMetrics",
    "ConfusionMatrix",
    "ConfusionMatrixAverage",
    "CosineSimilarity",
    "DiceCoefficient",
    "Entropy",
    "EpochMetric",
    "EpochWise",
    "Fbeta",
    "Frequency",
    "GeometricAverage",
    "GpuInfo",
    "HitRate",
    "InceptionScore",
    "IoU",
    "JSDivergence",
    "JaccardIndex",
    "KLDivergence",
    "Loss",
    "MaximumMeanDiscrepancy",
    "MatthewsCorrCoef",
    "MeanAbsoluteError",
    "MeanAveragePrecision",
    "MeanPairwiseDistance",
    "MeanSquaredError",
    "Metric",
    "MultiLabelConfusionMatrix",
    "MetricGroup",
    "MetricUsage",
    "MetricsLambda",
    "MetricsResultMode",
    "MutualInformation",
    "NotComputableError",
    "ObjectDetectionAvgPrecisionRecall",
    "Perplexity",
    "Precision",
    "PrecisionRecallCurve",
    "R2Score",
    "Recall",
    "RocCurve",
    "RootMeanSquaredError",
    "Rouge",
    "RougeL",
    "RougeN",
    "RunningAverage",
    "RunningBatchWise",
    "RunningEpochWise",
    "SingleEpochRunningBatchWise",
    "TopKCategoricalAccuracy",
    "TorchMetricsAdapter",
    "VariableAccumulation",
    "clustering",
    "coco_tensor_list_to_dict_list",
    "fairness",
    "mIoU",
    "roc_auc_score",
]

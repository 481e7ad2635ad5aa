"""Classification metrics: accuracy, top-k accuracy, precision, recall and F-beta."""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from cadence.distributed import ReduceOp, get_world_size
from cadence.metrics._inputs import (
    BINARY,
    MULTICLASS,
    MULTILABEL,
    ClassificationMetric,
    as_pair,
    check_binary_values,
    check_class_indices,
)
from cadence.metrics.metric import Metric, MetricsLambda, NotComputableError, identity, reduced

__all__ = ["Accuracy", "Averaging", "Fbeta", "Precision", "Recall", "TopKCategoricalAccuracy"]


class Accuracy(ClassificationMetric):
    """The fraction of correct predictions, for binary, multiclass or multilabel data.

    * binary: ``y_pred`` and ``y`` of shape ``(batch_size, ...)`` holding 0s and 1s;
    * multiclass: ``y_pred`` of shape ``(batch_size, num_classes, ...)`` (scores; the arg-max is the
      prediction) and ``y`` of shape ``(batch_size, ...)`` holding class indices;
    * multilabel (``is_multilabel=True``): ``y_pred`` and ``y`` of shape ``(batch_size, num_labels, ...)``
      holding 0s and 1s; a sample counts as correct when all its labels are.

    Example:
        >>> accuracy = Accuracy()
        >>> accuracy.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), torch.tensor([0, 1, 1])))
        >>> round(accuracy.compute(), 4)
        0.6667
    """

    _state_names = ("_num_correct", "_num_examples", "_type", "_num_classes")

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        *,
        is_multilabel: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        self._is_multilabel = bool(is_multilabel)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget all predictions seen."""
        self._num_correct = torch.zeros((), dtype=torch.int64, device=self._device)
        self._num_examples = 0
        self._reset_kind()

    def update(self, output: Any) -> None:
        """Count the correct predictions of one batch ``(y_pred, y)``."""
        y_pred, y = as_pair(output, "Accuracy")
        kind, _ = self._kind_of(y_pred, y)
        if kind == MULTICLASS:
            correct = y_pred.argmax(dim=1) == y
        else:
            check_binary_values(y_pred, "y_pred", "Accuracy")
            check_binary_values(y, "y", "Accuracy")
            correct = y_pred.reshape(y.shape) == y
            if kind == MULTILABEL:
                correct = correct.all(dim=1)
        self._num_correct += torch.count_nonzero(correct).to(self._device)
        self._num_examples += correct.numel()

    def compute(self) -> float:
        """The fraction of correct predictions."""
        num_correct, num_examples = reduced(self._num_correct), reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("Accuracy must have at least one example before it can be computed.")
        return num_correct.item() / num_examples


class TopKCategoricalAccuracy(Metric):
    """The fraction of samples whose true class is among the ``k`` highest scores.

    ``y_pred`` has shape ``(batch_size, num_classes)`` and ``y`` shape ``(batch_size,)``.

    Example:
        >>> top2 = TopKCategoricalAccuracy(k=2)
        >>> top2.update((torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), torch.tensor([1, 0])))
        >>> top2.compute()
        0.5
    """

    _state_names = ("_num_correct", "_num_examples")

    def __init__(
        self,
        k: int = 5,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}.")
        self._k = k
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"k": self._k}

    def reset(self) -> None:
        """Forget all predictions seen."""
        self._num_correct = torch.zeros((), dtype=torch.int64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Count the samples of one batch ``(y_pred, y)`` whose class is in the top ``k``."""
        y_pred, y = as_pair(output, "TopKCategoricalAccuracy")
        if y_pred.dim() != 2 or y.shape != y_pred.shape[:1]:
            raise ValueError(
                "TopKCategoricalAccuracy needs y_pred of shape (batch_size, num_classes) and y of shape "
                f"(batch_size,), got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}."
            )
        if y_pred.shape[1] < self._k:
            raise ValueError(f"TopKCategoricalAccuracy(k={self._k}) needs at least k classes, got {y_pred.shape[1]}.")
        check_class_indices(y, "TopKCategoricalAccuracy")
        top = y_pred.topk(self._k, dim=1).indices
        self._num_correct += (top == y.unsqueeze(1)).any(dim=1).sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The top-``k`` accuracy."""
        num_correct, num_examples = reduced(self._num_correct), reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError(
                "TopKCategoricalAccuracy must have at least one example before it can be computed."
            )
        return num_correct.item() / num_examples


class Averaging(str, enum.Enum):
    """How :class:`Precision` and :class:`Recall` combine classes; Ignite's ``average`` values map onto it.

    ``NONE`` (``average=False``): per class, or the positive class's value for binary data;
    ``PER_CLASS`` (``None``): per class, binary data counting as two classes;
    ``MACRO`` (``True``, ``"macro"``): the mean over classes; ``MICRO`` (``"micro"``): from counts summed
    over classes; ``WEIGHTED`` (``"weighted"``): the mean weighted by each class's number of true samples;
    ``SAMPLES`` (``"samples"``, multilabel only): the mean over samples.

    Example:
        >>> Averaging.parse(True), Averaging.parse("micro"), Averaging.parse(False)
        (<Averaging.MACRO: 'macro'>, <Averaging.MICRO: 'micro'>, <Averaging.NONE: 'none'>)
    """

    NONE = "none"
    PER_CLASS = "per_class"
    MICRO = "micro"
    MACRO = "macro"
    WEIGHTED = "weighted"
    SAMPLES = "samples"

    @classmethod
    def parse(cls, value: Averaging | bool | str | None) -> Averaging:
        """Accept an :class:`Averaging` or Ignite's ``False``, ``None``, ``True``, ``'micro'``, ``'macro'``,
        ``'weighted'``, ``'samples'``."""
        if isinstance(value, Averaging):
            return value
        if value is None:
            return cls.PER_CLASS
        if isinstance(value, bool):
            return cls.MACRO if value else cls.NONE
        if isinstance(value, str) and value in ("micro", "macro", "weighted", "samples"):
            return cls(value)
        raise ValueError(
            f"Unknown average {value!r}: Argument average should be None or a boolean or one of values 'micro', "
            "'macro', 'weighted' and 'samples' (False: per class, True: 'macro'), or an Averaging member."
        )


class _PrecisionRecall(ClassificationMetric):
    """Per-class counts (true positives, predicted positives, actual positives) and their averages."""

    _state_names = ("_counts", "_sample_sum", "_num_samples", "_num_examples", "_type", "_num_classes")
    _lazy_state_names = frozenset({"_counts"})
    _divide_by_predicted: bool  # precision divides by predicted positives, recall by actual positives
    #: Added to each denominator so that a class with none gives 0 (as Ignite); the counts are whole
    #: numbers, so any other denominator is unchanged.
    eps = 1e-20

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        *,
        average: Averaging | bool | str | None = False,
        is_multilabel: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        self._average = Averaging.parse(average)
        self._is_multilabel = bool(is_multilabel)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"is_multilabel": self._is_multilabel, "average": self._average.value}

    def reset(self) -> None:
        """Forget all predictions seen."""
        self._counts: torch.Tensor | None = None  # (3, num_classes): true, predicted and actual positives
        self._sample_sum = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_samples = 0
        self._num_examples = 0
        self._updated = False  # whether a batch was counted since the reset (read by Ignite's tests)
        self._reset_kind()

    def update(self, output: Any) -> None:
        """Accumulate the per-class counts of one batch ``(y_pred, y)``; a refused batch leaves no trace."""
        kind_name = type(self).__name__
        y_pred, y = as_pair(output, kind_name)
        if self._average is Averaging.SAMPLES and not self._is_multilabel:
            raise ValueError(
                f"{kind_name}: Argument average='samples' is incompatible with binary and multiclass input data; "
                "it needs multilabel data (is_multilabel=True)."
            )
        first = self._type is None
        try:
            counts = self._batch_counts(y_pred, y, kind_name)
        except (ValueError, TypeError):
            if first:
                self._reset_kind()
            raise
        self._num_examples += y.numel()
        if self._counts is None:
            self._counts = counts
        else:
            self._counts += counts
        self._updated = True

    def _batch_counts(self, y_pred: torch.Tensor, y: torch.Tensor, kind_name: str) -> torch.Tensor:
        kind, classes = self._kind_of(y_pred, y)
        _warn_non_long(kind, y_pred, y, self._average)
        if kind == MULTICLASS:
            counts = _class_counts(y_pred.argmax(dim=1).reshape(-1), y.reshape(-1).long(), classes, kind_name)
        else:
            check_binary_values(y_pred, "y_pred", kind_name)
            check_binary_values(y, "y", kind_name)
            if kind == BINARY:
                counts = _class_counts(y_pred.reshape(-1).long(), y.reshape(-1).long(), 2, kind_name)
            else:
                counts = self._label_counts(y_pred, y, classes)
        return counts.to(self._device)

    # Ignite's names for the accumulators (its tests check where they live): true positives (or the sum of the
    # per-sample ratios), the predicted or actual positives they divide by, and the actual positives (weights).
    @property
    def _numerator(self) -> torch.Tensor | None:
        if self._average is Averaging.SAMPLES:
            return self._sample_sum
        return None if self._counts is None else self._counts[0]

    @property
    def _denominator(self) -> torch.Tensor | None:
        return None if self._counts is None else self._counts[1 if self._divide_by_predicted else 2]

    @property
    def _weight(self) -> torch.Tensor | None:
        return None if self._counts is None else self._counts[2]

    def _label_counts(self, y_pred: torch.Tensor, y: torch.Tensor, labels: int) -> torch.Tensor:
        rows_pred = y_pred.detach().movedim(1, -1).reshape(-1, labels).double()
        rows_true = y.detach().movedim(1, -1).reshape(-1, labels).double()
        true_pos = rows_pred * rows_true
        if self._average is Averaging.SAMPLES:
            denominator = (rows_pred if self._divide_by_predicted else rows_true).sum(dim=1)
            ratio = true_pos.sum(dim=1) / (denominator + self.eps)
            self._sample_sum += ratio.sum().to(self._device)
            self._num_samples += rows_true.shape[0]
        return torch.stack([true_pos.sum(dim=0), rows_pred.sum(dim=0), rows_true.sum(dim=0)])

    def state_dict(self) -> dict[str, Any]:
        """The counts and settings; binary data keep the positive class's three counts as three numbers (the
        negative class's follow from them and the number of examples), so that two states compare with ``==``
        as Ignite's do.

        Example:
            >>> precision = Precision()
            >>> precision.update((torch.tensor([1, 0, 1]), torch.tensor([1, 1, 0])))
            >>> [float(count) for count in precision.state_dict()["state"]["_counts"]]
            [1.0, 2.0, 2.0]
        """
        saved = super().state_dict()
        counts = saved["state"]["_counts"]
        if self._type == BINARY and isinstance(counts, torch.Tensor):
            saved["state"]["_counts"] = tuple(counts[:, 1].unbind())
        return saved

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` (also one that holds a binary state's full counts)."""
        state = state_dict.get("state") if isinstance(state_dict, Mapping) else None
        positive = state.get("_counts") if isinstance(state, Mapping) else None
        if isinstance(positive, tuple) and len(positive) == 3 and state is not None:
            true_pos, predicted, actual = (torch.as_tensor(count, dtype=torch.float64) for count in positive)
            examples = float(state.get("_num_examples", 0))
            negative = torch.stack([examples - predicted - actual + true_pos, examples - predicted, examples - actual])
            full = torch.stack([negative, torch.stack([true_pos, predicted, actual])], dim=1)
            state_dict = {**state_dict, "state": {**state, "_counts": full}}
        super().load_state_dict(state_dict)

    def _check_state(self, state: dict[str, Any]) -> None:
        counts, classes = state["_counts"], state["_num_classes"]
        expected = 2 if state["_type"] == BINARY else classes
        if counts is not None and (not isinstance(counts, torch.Tensor) or tuple(counts.shape) != (3, expected)):
            raise ValueError(f"Cannot load {type(self).__name__} state: its counts do not match {expected} classes.")

    def _synced_counts(self) -> tuple[torch.Tensor | None, str | None]:
        """The counts summed over processes, and the kind of data that the processes saw."""
        if get_world_size() == 1:
            return self._counts, self._type
        # A process that saw no data has neither counts nor a kind yet: agree on both first (one MAX over
        # [width, kind, -smallest width, -smallest kind], so that processes fed different data are caught too).
        width = 0 if self._counts is None else self._counts.shape[1]
        code = _KIND_CODES.index(self._type)
        missing = -(1 << 30)
        agreed = reduced(torch.tensor([width, code, -width or missing, -code or missing]), ReduceOp.MAX).tolist()
        if agreed[0] == 0:
            return None, None
        if agreed[0] != -agreed[2] or agreed[1] != -agreed[3]:
            raise ValueError(
                f"{type(self).__name__}: the processes were fed different kinds of data or numbers of classes; "
                "every process must give data of the same kind and number of classes."
            )
        counts = self._counts if self._counts is not None else torch.zeros(3, agreed[0], dtype=torch.float64)
        return reduced(counts.to(self._device)), _KIND_CODES[agreed[1]]

    def compute(self) -> torch.Tensor | float:
        """The averaged value (a float), or a tensor of per-class values (``average=False``/``None``)."""
        counts, kind = self._synced_counts()
        if counts is None or reduced(self._num_examples) == 0:
            raise NotComputableError(f"{type(self).__name__} must have at least one example before it can be computed.")
        if self._average is Averaging.SAMPLES:
            return float(reduced(self._sample_sum) / reduced(self._num_samples))
        true_pos, predicted, actual = counts[0], counts[1], counts[2]
        denominator = predicted if self._divide_by_predicted else actual
        per_class = true_pos / (denominator + self.eps)
        average = self._average
        if average is Averaging.NONE:
            return per_class[1] if kind == BINARY else per_class
        if average is Averaging.PER_CLASS:
            return per_class
        if average is Averaging.MACRO:
            return float(per_class.mean())
        if average is Averaging.MICRO:
            return float(true_pos.sum() / (denominator.sum() + self.eps))
        return float((per_class * actual).sum() / (actual.sum() + self.eps))


def _warn_non_long(kind: str, y_pred: torch.Tensor, y: torch.Tensor, average: Averaging) -> None:
    """Ignite's warnings for labels that are not ``int64`` (they are cast, so the counts are right anyway)."""
    if kind == MULTICLASS and y.dtype != torch.long:
        warnings.warn(
            f"`y` should be of dtype long when entry type is multiclass (got {y.dtype}; it is cast).",
            RuntimeWarning,
            stacklevel=4,
        )
    if kind == BINARY and average is not Averaging.NONE and (y.dtype != torch.long or y_pred.dtype != torch.long):
        warnings.warn(
            "`y` and `y_pred` should be of dtype long when entry type is binary and average!=False "
            f"(got {y_pred.dtype} and {y.dtype}; they are cast).",
            RuntimeWarning,
            stacklevel=4,
        )


_KIND_CODES = (None, BINARY, MULTICLASS, MULTILABEL)  # the kind of data as a number, to agree on it across processes


def _class_counts(predicted: torch.Tensor, target: torch.Tensor, classes: int, kind: str) -> torch.Tensor:
    """``(3, classes)``: true positives, predicted positives and actual positives of each class."""
    try:
        counts = torch.stack(
            [
                torch.bincount(target, weights=(predicted == target).double(), minlength=classes),
                torch.bincount(predicted, minlength=classes).double(),
                torch.bincount(target, minlength=classes).double(),
            ]
        )
    except RuntimeError as error:  # a negative index, or one too large so that the bincounts differ in length
        raise ValueError(
            f"{kind}: y must hold class indices in [0, {classes}), got {target.tolist()!r:.200}."
        ) from error
    if counts.shape[1] != classes:
        raise ValueError(f"{kind}: y must hold class indices in [0, {classes}), got {target.tolist()!r:.200}.")
    return counts


class Precision(_PrecisionRecall):
    """Precision, true positives over predicted positives, per class or averaged.

    Data as for :class:`Accuracy`. ``average`` is one of ``False`` (default: per class, or the positive
    class's precision for binary data), ``None``, ``True``/``'macro'``, ``'micro'``, ``'weighted'`` and
    ``'samples'`` (multilabel only); see :class:`Averaging`. A class never predicted has precision 0.

    Example:
        >>> precision = Precision(average="macro")
        >>> precision.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> precision.compute()
        0.75
    """

    _divide_by_predicted = True


class Recall(_PrecisionRecall):
    """Recall, true positives over actual positives, per class or averaged.

    Data and ``average`` as for :class:`Precision`. A class with no true samples has recall 0.

    Example:
        >>> recall = Recall()
        >>> recall.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> recall.compute()
        tensor([1.0000, 0.5000], dtype=torch.float64)
    """

    _divide_by_predicted = False


def Fbeta(
    beta: float,
    average: bool = True,
    precision: Precision | None = None,
    recall: Recall | None = None,
    output_transform: Callable[[Any], Any] | None = None,
    device: str | torch.device | None = None,
) -> MetricsLambda:
    """The F-beta score ``(1 + beta²) P R / (beta² P + R)``, from per-class precision and recall.

    Args:
        beta: weight of recall relative to precision (> 0).
        average: the mean over classes (a float) if true, else per class values.
        precision, recall: existing ``average=False`` metrics to build on (then no ``output_transform`` nor
            ``device``).
        output_transform: for the precision and recall made here.
        device: where the precision and recall made here keep their counts (default: the given metric's, or CPU).

    Example:
        >>> f1 = Fbeta(1.0)
        >>> f1.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), torch.tensor([0, 1, 1])))
        >>> round(f1.compute(), 4)
        0.6667
    """
    if isinstance(beta, bool) or not isinstance(beta, int | float) or beta <= 0:
        raise ValueError(f"Beta should be a positive integer or float, but given {beta!r}.")
    for metric, name in ((precision, "precision"), (recall, "recall")):
        if metric is not None and output_transform is not None:
            raise ValueError(
                f"If {name} argument is provided, output_transform should be None: give the transform to the "
                f"{name} metric itself."
            )
        if metric is not None and device is not None:
            raise ValueError(f"If {name} argument is provided, device should be None: the {name} metric has its own.")
    transform = output_transform or identity
    given = precision if precision is not None else recall
    device = device if device is not None else (given._device if given is not None else "cpu")
    precision = Precision(transform, average=False, device=device) if precision is None else precision
    recall = Recall(transform, average=False, device=device) if recall is None else recall
    for metric, name, kind in ((precision, "precision", Precision), (recall, "recall", Recall)):
        if not isinstance(metric, kind):
            raise TypeError(f"Fbeta's {name} must be a {kind.__name__}, got {type(metric).__name__}.")
        if metric._average is not Averaging.NONE:
            raise ValueError(f"Input {name} metric should have average=False, got {metric._average}.")
    return MetricsLambda(_fbeta, precision, recall, float(beta) ** 2, average)


def _fbeta(precision: torch.Tensor, recall: torch.Tensor, beta2: float, average: bool) -> torch.Tensor | float:
    score = (1 + beta2) * precision * recall / (beta2 * precision + recall + 1e-15)
    return score.mean().item() if average else score

"""Information measures of predicted class distributions (given as logits): :class:`Entropy`,
:class:`MutualInformation`, :class:`KLDivergence`, :class:`JSDivergence`.

Each sums per-sample values in float64 and divides by the number of samples over all processes, so the
value does not depend on how the data is batched or sharded.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from cadence.metrics._inputs import as_pair
from cadence.metrics.accumulation import summed_over_processes
from cadence.metrics.metric import Metric, NotComputableError, reduced

__all__ = ["Entropy", "JSDivergence", "KLDivergence", "MutualInformation"]


def _rows_of_classes(logits: torch.Tensor, name: str = "y_pred") -> torch.Tensor:
    """``(B, C)`` as it is, ``(B, C, ...)`` as ``(B * ..., C)``: each position is one prediction."""
    if logits.dim() < 2:
        raise ValueError(f"{name} must be in the shape of (B, C) or (B, C, ...), got {tuple(logits.shape)}.")
    if not logits.is_floating_point():
        raise TypeError(f"{name} must hold floating-point logits, got dtype {logits.dtype}.")
    logits = logits.detach()
    return logits.movedim(1, -1).reshape(-1, logits.shape[1]) if logits.dim() > 2 else logits


def _kl_sum(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``sum p log(p / q)`` over all rows, a class of probability 0 in ``p`` adding 0."""
    p = log_p.exp()
    return torch.where(p == 0, torch.zeros_like(p), p * (log_p - log_q)).sum()  # NaN stays NaN


def _finite(value: torch.Tensor, kind: str) -> torch.Tensor:
    if not torch.isfinite(value).all():
        raise ValueError(
            f"{kind} got NaN or infinite logits (the accumulated value is {value.tolist()}); check the model's output."
        )
    return value


class Entropy(Metric):
    """The mean entropy ``-sum_c p_c log p_c`` of the predicted distributions ``p = softmax(y_pred)``.

    ``update`` takes ``(y_pred, y)``; ``y`` is not used. ``y_pred`` holds logits of shape ``(B, C)``, or
    ``(B, C, ...)`` where each position counts as one prediction (e.g. segmentation).

    Args:
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> entropy = Entropy()
        >>> entropy.update((torch.zeros(2, 4), None))
        >>> round(entropy.compute(), 6) == round(math.log(4), 6)
        True
    """

    _state_names: ClassVar[tuple[str, ...]] = ("_sum_of_entropies", "_num_examples")

    def reset(self) -> None:
        """Forget all predictions seen."""
        self._sum_of_entropies = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Add the predictions of one batch ``(y_pred, y)``."""
        logits = _rows_of_classes(as_pair(output, type(self).__name__, y_used=False)[0]).double()
        log_prob = F.log_softmax(logits, dim=1)
        self._add(log_prob.exp(), log_prob)

    def _add(self, prob: torch.Tensor, log_prob: torch.Tensor) -> None:
        plogp = torch.where(prob == 0, torch.zeros_like(prob), prob * log_prob)  # a class of probability 0 adds 0
        self._sum_of_entropies += -plogp.sum().to(self._device)
        self._num_examples += prob.shape[0]

    def _count(self) -> int:
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError(f"{type(self).__name__} must have at least one example before it can be computed.")
        return num_examples

    def compute(self) -> float:
        """The mean entropy of the predictions seen (in nats)."""
        num_examples = self._count()
        return _finite(reduced(self._sum_of_entropies), "Entropy").item() / num_examples


class MutualInformation(Entropy):
    """The mutual information between inputs and predictions, ``H(mean_i p_i) - mean_i H(p_i)``, from the
    predicted distributions ``p_i = softmax(y_pred_i)`` (never below 0).

    High when each prediction is confident while the classes are used evenly over the data. ``update``
    takes ``(y_pred, y)`` as :class:`Entropy` does (``y`` is not used).

    Args:
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> mi = MutualInformation()
        >>> mi.update((torch.tensor([[20.0, 0.0], [0.0, 20.0]]), None))
        >>> round(mi.compute(), 4) == round(math.log(2), 4)
        True
    """

    _state_names = ("_sum_of_entropies", "_num_examples", "_sum_of_probabilities")
    _lazy_state_names = frozenset({"_sum_of_probabilities"})

    def reset(self) -> None:
        """Forget all predictions seen."""
        super().reset()
        self._sum_of_probabilities = torch.zeros((), dtype=torch.float64, device=self._device)

    def _add(self, prob: torch.Tensor, log_prob: torch.Tensor) -> None:
        super()._add(prob, log_prob)
        # Widening: the accumulator is 0-d until the first batch gives the number of classes.
        self._sum_of_probabilities = self._sum_of_probabilities + prob.sum(dim=0).to(self._device)

    def compute(self) -> float:
        """The mutual information (in nats) over the predictions seen."""
        num_examples = self._count()
        marginal = summed_over_processes(self._sum_of_probabilities, "MutualInformation") / num_examples
        marginal_entropy = -torch.special.xlogy(marginal, marginal).sum()
        conditional_entropy = reduced(self._sum_of_entropies) / num_examples
        value = _finite(marginal_entropy - conditional_entropy, "MutualInformation")
        return max(value.item(), 0.0)


class KLDivergence(Metric):
    """The mean Kullback-Leibler divergence ``KL(p || q) = sum_c p_c log(p_c / q_c)`` of the predicted
    distributions ``q = softmax(y_pred)`` from the targets ``p = softmax(y)``.

    ``update`` takes ``(y_pred, y)``: logits of the same shape, ``(B, C)`` or ``(B, C, ...)``.

    Args:
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> kl = KLDivergence()
        >>> kl.update((torch.zeros(1, 2), torch.tensor([[0.0, -math.inf]])))
        >>> round(kl.compute(), 6) == round(math.log(2), 6)
        True
    """

    _state_names = ("_sum_of_kl", "_num_examples")

    def reset(self) -> None:
        """Forget all predictions seen."""
        self._sum_of_kl = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Add one batch ``(y_pred, y)`` of logits."""
        y_pred, y = as_pair(output, type(self).__name__)
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred and y must be in the same shape, got {tuple(y_pred.shape)} != {tuple(y.shape)}.")
        log_q = F.log_softmax(_rows_of_classes(y_pred).double(), dim=1)
        log_p = F.log_softmax(_rows_of_classes(y, "y").double(), dim=1)
        self._sum_of_kl += self._divergence(log_q, log_p).to(self._device)
        self._num_examples += log_q.shape[0]

    @staticmethod
    def _divergence(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
        return _kl_sum(log_p, log_q)

    def compute(self) -> float:
        """The mean divergence per prediction (in nats)."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError(f"{type(self).__name__} must have at least one example before it can be computed.")
        return _finite(reduced(self._sum_of_kl), type(self).__name__).item() / num_examples


class JSDivergence(KLDivergence):
    """The mean Jensen-Shannon divergence ``(KL(p || m) + KL(q || m)) / 2`` with ``m = (p + q) / 2``, between
    the predicted distributions ``q = softmax(y_pred)`` and the targets ``p = softmax(y)``.

    Symmetric, and at most ``log 2``. ``update`` takes ``(y_pred, y)`` as :class:`KLDivergence` does.

    Args:
        output_transform, device, skip_unrolling: as for :class:`Metric`.

    Example:
        >>> js = JSDivergence()
        >>> js.update((torch.tensor([[0.0, -math.inf]]), torch.tensor([[-math.inf, 0.0]])))
        >>> round(js.compute(), 6) == round(math.log(2), 6)
        True
    """

    @staticmethod
    def _divergence(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
        log_m = torch.logaddexp(log_q, log_p) - math.log(2.0)
        return (_kl_sum(log_q, log_m) + _kl_sum(log_p, log_m)) / 2

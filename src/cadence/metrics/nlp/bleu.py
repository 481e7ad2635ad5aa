""":class:`Bleu`: the BLEU score of tokenised candidate sentences against their reference sentences."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import torch

from cadence.metrics.metric import Metric, NotComputableError, identity, reduced
from cadence.metrics.nlp.utils import modified_precision

__all__ = ["Bleu"]


class Smoothing(Enum):
    """How BLEU treats n-gram orders with few or no matches (Chen & Cherry, 2014)."""

    NONE = "no_smooth"
    """No smoothing: any order without a match makes the score 0."""
    ADD_EPSILON = "smooth1"
    """An order without a match counts 0.1 matches."""
    ADD_ONE_NLTK = "nltk_smooth2"
    """Add one to matches and counts of orders 2 and up; counts of 0 are first raised to 1 (as nltk)."""
    ADD_ONE = "smooth2"
    """Add one to matches and counts of orders 2 and up."""


class Smoother:
    """The smoothing of :class:`Bleu` as a function: ``smoother(numerators, denominators)`` gives the smoothed
    precision of each n-gram order from its matches and counts (orders 1 to N, as tensors or sequences).

    Example:
        >>> Smoother("smooth1")(torch.tensor([3.0, 0.0]), torch.tensor([4.0, 3.0]))
        [0.75, 0.03333333333333333]
    """

    def __init__(self, method: str | Smoothing) -> None:
        self._method = Smoothing(method)

    @property
    def smooth(self) -> str:
        """The name of the method: ``"no_smooth"``, ``"smooth1"``, ``"nltk_smooth2"`` or ``"smooth2"``."""
        return str(self._method.value)

    def __call__(
        self, numerators: torch.Tensor | Sequence[float], denominators: torch.Tensor | Sequence[float]
    ) -> list[float]:
        matches = [float(n) for n in numerators]
        totals = [float(d) for d in denominators]
        return _precisions(matches, totals, self._method)


class Averaging(Enum):
    """Average of sentence scores (``macro``) or one score of the corpus's pooled counts (``micro``)."""

    MACRO = "macro"
    MICRO = "micro"


def _closest_reference_length(references: Sequence[Sequence[Any]], length: int) -> int:
    return min((len(reference) for reference in references), key=lambda size: (abs(size - length), size))


class _Counts:
    """Pooled n-gram matches and counts (orders 1..N) and candidate / closest-reference lengths."""

    def __init__(self, order: int) -> None:
        self.matches = [0] * order
        self.totals = [0] * order
        self.candidate_length = 0
        self.reference_length = 0

    def add(self, references: Sequence[Sequence[Any]], candidate: Sequence[Any]) -> None:
        for n in range(1, len(self.matches) + 1):
            matched, total = modified_precision(references, candidate, n)
            self.matches[n - 1] += matched
            self.totals[n - 1] += total
        self.candidate_length += len(candidate)
        self.reference_length += _closest_reference_length(references, len(candidate))


def _score(
    matches: Sequence[float],
    totals: Sequence[float],
    candidate_length: float,
    reference_length: float,
    smooth: Smoothing,
    weights: Sequence[float],
) -> float:
    """BLEU from pooled counts: brevity penalty times the weighted geometric mean of the (smoothed) precisions."""
    if matches[0] == 0 or (smooth is Smoothing.NONE and min(matches) == 0):
        return 0.0
    if candidate_length >= reference_length:
        penalty = 1.0
    else:
        penalty = math.exp(1 - reference_length / candidate_length) if candidate_length > 0 else 0.0
    precisions = _precisions(matches, totals, smooth)
    return penalty * math.exp(math.fsum(w * math.log(p) for w, p in zip(weights, precisions, strict=True)))


def _precisions(matches: Sequence[float], totals: Sequence[float], smooth: Smoothing) -> list[float]:
    if smooth is Smoothing.NONE:
        return [m / max(1, t) for m, t in zip(matches, totals, strict=True)]
    if smooth is Smoothing.ADD_EPSILON:
        return [(m if m != 0 else 0.1) / max(1, t) for m, t in zip(matches, totals, strict=True)]
    if smooth is Smoothing.ADD_ONE_NLTK:
        totals = [max(1, t) for t in totals]
    return [matches[0] / totals[0]] + [(m + 1) / (t + 1) for m, t in zip(matches[1:], totals[1:], strict=True)]


class Bleu(Metric):
    """The BLEU score (Papineni et al., 2002) of tokenised candidates against tokenised references.

    ``update((y_pred, y))`` takes a batch: ``y_pred`` a list of candidate sentences (each a list of tokens)
    and ``y`` a list holding, for each candidate, its list of reference sentences. With ``average="macro"``
    the result is the mean of the sentence scores (a float64 tensor); with ``"micro"`` it is one score of the
    n-gram counts pooled over the corpus (a float), as nltk's ``corpus_bleu``.

    Args:
        ngram: the highest n-gram order, weighted uniformly.
        smooth: ``"no_smooth"``, ``"smooth1"``, ``"nltk_smooth2"`` or ``"smooth2"`` (see :class:`Smoothing`).
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the sums are kept.
        average: ``"macro"`` or ``"micro"``.

    Example:
        >>> bleu = Bleu(ngram=2, smooth="smooth1")
        >>> candidate = "a cat on the mat".split()
        >>> references = ["the cat is on the mat".split(), "a cat sat on the mat".split()]
        >>> bleu.update(([candidate], [references]))
        >>> round(bleu.compute().item(), 4)
        0.709
    """

    _state_names = (
        "_sum_of_bleu",
        "_num_sentences",
        "p_numerators",
        "p_denominators",
        "hyp_length_sum",
        "ref_length_sum",
    )

    def __init__(
        self,
        ngram: int = 4,
        smooth: str | Smoothing = "no_smooth",
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        average: str | Averaging = "macro",
        skip_unrolling: bool = False,
    ) -> None:
        if not isinstance(ngram, int) or ngram <= 0:
            raise ValueError(f"ngram order must be greater than zero (got: {ngram})")
        valid = [member.value for member in Smoothing]
        if not isinstance(smooth, Smoothing) and smooth not in valid:
            raise ValueError(f"Smooth is not valid (expected: {valid}, got: {smooth})")
        if not isinstance(average, Averaging) and average not in ("macro", "micro"):
            raise ValueError(f'Average must be either "macro" or "micro" (got: {average})')
        self.ngrams_order = ngram
        self.smooth = Smoothing(smooth)
        #: The precisions' weights in the geometric mean, one per order (uniform, as Ignite's).
        self.weights = [1 / ngram] * ngram
        #: The smoothing applied to the precisions, ``smoother(numerators, denominators)`` (a ``Smoother``).
        self.smoother = Smoother(self.smooth)
        self.average = Averaging(average).value
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"ngram": self.ngrams_order, "smooth": self.smooth.value, "average": self.average}

    def reset(self) -> None:
        """Forget all sentences seen."""
        self._sum_of_bleu = torch.zeros((), dtype=torch.float64, device=self._device)
        self._num_sentences = 0
        self.p_numerators = torch.zeros(self.ngrams_order, dtype=torch.float64, device=self._device)
        self.p_denominators = torch.zeros(self.ngrams_order, dtype=torch.float64, device=self._device)
        self.hyp_length_sum = 0
        self.ref_length_sum = 0

    def update(self, output: Any) -> None:
        """Add a batch ``(candidates, references_per_candidate)``."""
        candidates, references = self._checked(output)
        if self.average == "macro":
            total = 0.0
            for candidate, refs in zip(candidates, references, strict=True):
                counts = _Counts(self.ngrams_order)
                counts.add(refs, candidate)
                total += _score(
                    counts.matches,
                    counts.totals,
                    counts.candidate_length,
                    counts.reference_length,
                    self.smooth,
                    self.weights,
                )
            self._sum_of_bleu += total
            self._num_sentences += len(candidates)
            return
        self._num_sentences += len(candidates)
        counts = _Counts(self.ngrams_order)
        for candidate, refs in zip(candidates, references, strict=True):
            counts.add(refs, candidate)
        self.p_numerators += torch.tensor(counts.matches, dtype=torch.float64, device=self._device)
        self.p_denominators += torch.tensor(counts.totals, dtype=torch.float64, device=self._device)
        self.hyp_length_sum += counts.candidate_length
        self.ref_length_sum += counts.reference_length

    @staticmethod
    def _checked(output: Any) -> tuple[Sequence[Sequence[Any]], Sequence[Sequence[Sequence[Any]]]]:
        if not isinstance(output, tuple | list) or len(output) != 2:
            raise TypeError(f"Bleu.update takes a pair (candidates, references), got {type(output).__name__}.")
        candidates, references = output
        if len(candidates) != len(references):
            raise ValueError(
                f"nb of candidates should be equal to nb of reference lists ({len(candidates)} != {len(references)})"
            )
        for refs in references:
            if isinstance(refs, str) or len(refs) == 0:
                raise ValueError(
                    "Each candidate needs a non-empty list of reference sentences (each a list of tokens), "
                    f"got {refs!r:.80}."
                )
        return candidates, references

    def compute(self) -> torch.Tensor | float:
        """The macro average of sentence scores (a tensor), or the micro (corpus) score (a float)."""
        if self.average == "macro":
            num_sentences = reduced(self._num_sentences)
            if num_sentences == 0:
                raise NotComputableError("Bleu must have at least one example before it can be computed.")
            return reduced(self._sum_of_bleu) / num_sentences
        order = self.ngrams_order
        lengths = torch.tensor([self.hyp_length_sum, self.ref_length_sum, self._num_sentences], dtype=torch.float64)
        pooled = reduced(torch.cat([self.p_numerators.cpu(), self.p_denominators.cpu(), lengths])).tolist()
        if pooled[-1] == 0:
            raise NotComputableError("Bleu must have at least one example before it can be computed.")
        return _score(pooled[:order], pooled[order : 2 * order], pooled[-3], pooled[-2], self.smooth, self.weights)

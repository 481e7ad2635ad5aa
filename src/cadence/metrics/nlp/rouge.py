"""ROUGE scores of tokenised candidates against references: :class:`RougeN` (n-grams), :class:`RougeL`
(longest common subsequence) and :class:`Rouge` (several at once)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, NamedTuple

import torch

from cadence.metrics.metric import Metric, NotComputableError, identity, reduced
from cadence.metrics.nlp.utils import lcs, ngrams

__all__ = ["MultiReference", "Rouge", "RougeL", "RougeN", "Score", "compute_lcs_scores", "compute_ngram_scores"]


class Score(NamedTuple):
    """Matches between a candidate and a reference, with the sizes they are measured against.

    Example:
        >>> Score(match=2, candidate=4, reference=3).precision()
        0.5
    """

    match: int
    candidate: int
    reference: int

    def precision(self) -> float:
        """``match / candidate`` (0 for an empty candidate)."""
        return self.match / self.candidate if self.candidate > 0 else 0.0

    def recall(self) -> float:
        """``match / reference`` (0 for an empty reference)."""
        return self.match / self.reference if self.reference > 0 else 0.0


def compute_ngram_scores(candidate: Sequence[Any], reference: Sequence[Any], n: int = 4) -> Score:
    """The n-grams that ``candidate`` and ``reference`` share (each counted as often as in both).

    Example:
        >>> compute_ngram_scores("aab", "aace", n=1)
        Score(match=2, candidate=3, reference=4)
    """
    candidate_counts, reference_counts = ngrams(candidate, n), ngrams(reference, n)
    shared = candidate_counts & reference_counts
    return Score(sum(shared.values()), sum(candidate_counts.values()), sum(reference_counts.values()))


def compute_lcs_scores(candidate: Sequence[Any], reference: Sequence[Any]) -> Score:
    """The longest common subsequence of ``candidate`` and ``reference`` against their lengths.

    Example:
        >>> compute_lcs_scores("abcf", "abdf")
        Score(match=3, candidate=4, reference=4)
    """
    return Score(lcs(candidate, reference), len(candidate), len(reference))


class MultiReference(Enum):
    """How the scores against several references of one candidate are combined.

    Example:
        >>> MultiReference("best") is MultiReference.BEST
        True
    """

    AVERAGE = "average"
    """Pool the matches and sizes of all references."""
    BEST = "best"
    """Keep the reference with the highest recall (the first one on a tie)."""


def _combined(scores: Sequence[Score], multiref: MultiReference) -> Score:
    if multiref is MultiReference.BEST:
        return max(scores, key=Score.recall)
    return Score(*(sum(column) for column in zip(*scores, strict=True)))


def _variant_name(variant: int | str) -> str:
    return f"Rouge-{variant}"


class Rouge(Metric):
    """Several ROUGE scores (Lin, 2004) at once: ``Rouge-N`` for each integer variant, ``Rouge-L`` for ``"L"``.

    ``update((y_pred, y))`` takes a batch: ``y_pred`` a list of candidates (each a sequence of tokens) and ``y``
    a list holding each candidate's list of references. The result maps ``Rouge-<variant>-P``/``-R``/``-F`` to
    the mean over candidates of precision, recall and F-measure, with
    ``F = P * R / ((1 - alpha) * P + alpha * R)`` (``alpha`` near 0 favours recall, near 1 precision).

    Args:
        variants: integers ``n >= 1`` and/or ``"L"`` (default ``[1, 2, 4, "L"]``).
        multiref: ``"average"`` or ``"best"``, see :class:`MultiReference`.
        alpha: the weight of precision in the F-measure, in ``[0, 1]``.
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the sums are kept.

    Example:
        >>> rouge = Rouge(variants=["L", 2], multiref="best")
        >>> candidate = "the cat is not there".split()
        >>> references = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
        >>> rouge.update(([candidate], [references]))
        >>> rouge.compute()
        {'Rouge-L-P': 0.6, 'Rouge-L-R': 0.5, 'Rouge-L-F': 0.5, 'Rouge-2-P': 0.5, 'Rouge-2-R': 0.4, 'Rouge-2-F': 0.4}
    """

    _state_names = ("_sums", "_num_examples")

    def __init__(
        self,
        variants: Sequence[str | int] | None = None,
        multiref: str | MultiReference = "average",
        alpha: float = 0,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        chosen = list(variants) if variants else [1, 2, 4, "L"]
        for variant in chosen:
            if variant != "L" and (not isinstance(variant, int) or isinstance(variant, bool)):
                raise ValueError(f"variant must be 'L' or integer greater to zero, got {variant!r}")
            if isinstance(variant, int) and variant < 1:
                raise ValueError(f"ngram order must be greater than zero (got : {variant})")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in interval [0, 1] (got : {alpha})")
        valid = [member.value for member in MultiReference]
        if not isinstance(multiref, MultiReference) and multiref not in valid:
            raise ValueError(f"multiref : valid values are {sorted(valid, reverse=True)} (got : {multiref})")
        self._variants: list[int | str] = chosen
        self._multiref = MultiReference(multiref)
        self._alpha = float(alpha)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _config(self) -> dict[str, Any]:
        return {"variants": self._variants, "multiref": self._multiref.value, "alpha": self._alpha}

    def reset(self) -> None:
        """Forget all candidates seen."""
        # One row per variant: sums of precision, recall and F-measure over candidates.
        self._sums = torch.zeros((len(self._variants), 3), dtype=torch.float64, device=self._device)
        self._num_examples = 0

    def _score(self, variant: int | str, candidate: Sequence[Any], reference: Sequence[Any]) -> Score:
        if variant == "L":
            return compute_lcs_scores(candidate, reference)
        return compute_ngram_scores(candidate, reference, n=int(variant))

    def update(self, output: Any) -> None:
        """Add a batch ``(candidates, references_per_candidate)``."""
        if not isinstance(output, tuple | list) or len(output) != 2:
            raise TypeError(f"{type(self).__name__}.update takes a pair (candidates, references).")
        candidates, references = output
        if len(candidates) != len(references):
            raise ValueError(
                f"{type(self).__name__}: got {len(candidates)} candidates but {len(references)} lists of references."
            )
        sums = [[0.0, 0.0, 0.0] for _ in self._variants]
        for candidate, refs in zip(candidates, references, strict=True):
            if len(refs) == 0:
                raise ValueError(f"{type(self).__name__}: each candidate needs at least one reference.")
            for row, variant in zip(sums, self._variants, strict=True):
                score = _combined([self._score(variant, candidate, ref) for ref in refs], self._multiref)
                precision, recall = score.precision(), score.recall()
                row[0] += precision
                row[1] += recall
                if precision * recall > 0:
                    row[2] += precision * recall / ((1 - self._alpha) * precision + self._alpha * recall)
        self._sums += torch.tensor(sums, dtype=torch.float64, device=self._device)
        self._num_examples += len(candidates)

    def compute(self) -> dict[str, float]:
        """``{"Rouge-<variant>-P": ..., "-R": ..., "-F": ...}`` averaged over all candidates."""
        num_examples = reduced(self._num_examples)
        if num_examples == 0:
            raise NotComputableError("Rouge metric must have at least one example before being computed")
        means = (reduced(self._sums) / num_examples).tolist()
        return {
            f"{_variant_name(variant)}-{kind}": value
            for variant, row in zip(self._variants, means, strict=True)
            for kind, value in zip("PRF", row, strict=True)
        }


class RougeN(Rouge):
    """ROUGE-N: precision, recall and F-measure of the ``ngram``-grams shared with the references.

    See :class:`Rouge` for the inputs and arguments.

    Example:
        >>> rouge = RougeN(ngram=2, multiref="best")
        >>> candidate = "the cat is not there".split()
        >>> references = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
        >>> rouge.update(([candidate], [references]))
        >>> rouge.compute()
        {'Rouge-2-P': 0.5, 'Rouge-2-R': 0.4, 'Rouge-2-F': 0.4}
    """

    def __init__(
        self,
        ngram: int = 4,
        multiref: str | MultiReference = "average",
        alpha: float = 0,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not isinstance(ngram, int) or ngram < 1:
            raise ValueError(f"ngram order must be greater than zero (got : {ngram})")
        super().__init__([ngram], multiref, alpha, output_transform, device=device, skip_unrolling=skip_unrolling)


class RougeL(Rouge):
    """ROUGE-L: precision, recall and F-measure of the longest common subsequence with the references.

    See :class:`Rouge` for the inputs and arguments.

    Example:
        >>> rouge = RougeL(multiref="best")
        >>> candidate = "the cat is not there".split()
        >>> references = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
        >>> rouge.update(([candidate], [references]))
        >>> rouge.compute()
        {'Rouge-L-P': 0.6, 'Rouge-L-R': 0.5, 'Rouge-L-F': 0.5}
    """

    def __init__(
        self,
        multiref: str | MultiReference = "average",
        alpha: float = 0,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(["L"], multiref, alpha, output_transform, device=device, skip_unrolling=skip_unrolling)

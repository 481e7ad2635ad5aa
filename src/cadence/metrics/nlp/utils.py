"""Counting helpers shared by the text metrics: n-gram counts, longest common subsequence, clipped precision."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["lcs", "modified_precision", "ngrams"]


def ngrams(sequence: Sequence[Any], n: int) -> Counter[tuple[Any, ...]]:
    """How often each run of ``n`` consecutive items of ``sequence`` occurs, in order of first appearance.

    Example:
        >>> ngrams(["a", "b", "a", "b"], 2)
        Counter({('a', 'b'): 2, ('b', 'a'): 1})
    """
    items = list(sequence)
    return Counter(zip(*(items[start:] for start in range(n)), strict=False)) if n > 0 else Counter()


def lcs(seq_a: Sequence[Any], seq_b: Sequence[Any]) -> int:
    """The length of the longest common subsequence of ``seq_a`` and ``seq_b`` (items in order, gaps allowed).

    Example:
        >>> lcs("academy", "abracadabra")
        4
    """
    # One row of the dynamic-programming table at a time: O(len(seq_b)) memory.
    previous = [0] * (len(seq_b) + 1)
    for item_a in seq_a:
        current = [0]
        for j, item_b in enumerate(seq_b):
            current.append(previous[j] + 1 if item_a == item_b else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def modified_precision(references: Sequence[Sequence[Any]], candidate: Sequence[Any], n: int) -> tuple[int, int]:
    """BLEU's clipped n-gram precision of ``candidate`` against ``references``, as ``(matches, candidate n-grams)``.

    A candidate n-gram counts as matched at most as often as it occurs in the reference where it occurs most.

    Example:
        >>> modified_precision([["the", "cat"], ["the", "the", "dog"]], ["the", "the", "the"], 1)
        (2, 3)
    """
    counts = ngrams(candidate, n)
    most_in_a_reference: Counter[tuple[Any, ...]] = Counter()
    for reference in references:
        most_in_a_reference |= ngrams(reference, n)
    matched = counts & most_in_a_reference
    return sum(matched.values()), sum(counts.values())

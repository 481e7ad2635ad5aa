""":class:`CharacterErrorRate`: character edits needed to turn predictions into references, per reference character."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics.metric import Metric, NotComputableError, identity, reduced

__all__ = ["CharacterErrorRate", "edit_distance"]


def edit_distance(source: str, target: str) -> int:
    """The Levenshtein distance: the fewest insertions, deletions and substitutions turning ``source`` into ``target``.

    Example:
        >>> edit_distance("kitten", "sitting")
        3
    """
    if len(source) < len(target):
        source, target = target, source
    previous = list(range(len(target) + 1))
    for i, char_s in enumerate(source, start=1):
        current = [i]
        for j, char_t in enumerate(target, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_s != char_t)))
        previous = current
    return previous[-1]


class CharacterErrorRate(Metric):
    """The character error rate, ``(substitutions + deletions + insertions) / reference characters``.

    ``update((y_pred, y))`` takes a predicted string and its reference string, or two equally long lists
    of them. Edits and reference characters are summed over everything seen. When the references hold no
    character, the rate is 0 if no edit was needed and 1 otherwise.

    Example:
        >>> cer = CharacterErrorRate()
        >>> cer.update((["helo", "cat"], ["hello", "bat"]))
        >>> cer.compute()
        0.25
    """

    _state_names = ("_num_errors", "_num_refs", "_num_examples")

    def __init__(
        self,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget all strings seen."""
        self._num_errors = 0
        self._num_refs = 0
        self._num_examples = 0

    def update(self, output: Any) -> None:
        """Add ``(prediction, reference)`` strings, or lists of them."""
        if not isinstance(output, tuple | list) or len(output) != 2:
            raise TypeError(f"CharacterErrorRate.update takes a pair (y_pred, y), got {type(output).__name__}.")
        y_pred, y = output
        if not isinstance(y_pred, str | list) or not isinstance(y, str | list):
            raise TypeError(
                f"y_pred and y must be str or list[str], got y_pred: {type(y_pred).__name__} and y: {type(y).__name__}"
            )
        predictions = [y_pred] if isinstance(y_pred, str) else y_pred
        references = [y] if isinstance(y, str) else y
        if not all(isinstance(text, str) for text in [*predictions, *references]):
            raise TypeError("All elements of y_pred and y must be strings.")
        if len(predictions) != len(references):
            raise ValueError(
                f"y_pred and y must have the same length. Got y_pred of length {len(predictions)} "
                f"and y of length {len(references)}."
            )
        for prediction, reference in zip(predictions, references, strict=True):
            self._num_errors += edit_distance(reference, prediction)
            self._num_refs += len(reference)
        self._num_examples += 1

    def compute(self) -> float:
        """Edits per reference character over everything seen."""
        errors, refs, examples = reduced(torch.tensor([self._num_errors, self._num_refs, self._num_examples])).tolist()
        if examples == 0:
            raise NotComputableError("CharacterErrorRate must have at least one example before it can be computed.")
        if refs == 0:
            return 0.0 if errors == 0 else 1.0
        return float(errors / refs)

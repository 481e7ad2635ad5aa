"""Ignite's ``ignite._utils`` import path (an old home of these helpers); see :mod:`cadence.utils`.

Example:
    >>> from cadence._utils import to_onehot
    >>> to_onehot(torch.tensor([1]), 2).tolist()
    [[0, 1]]
"""

import torch  # noqa: F401  # used by the example above

from cadence.utils import apply_to_tensor, apply_to_type, convert_tensor, to_onehot

__all__ = ["apply_to_tensor", "apply_to_type", "convert_tensor", "to_onehot"]

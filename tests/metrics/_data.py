"""Random data for metric tests, cut into batches of uneven (possibly empty) sizes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from hypothesis import strategies as st

SETTINGS = {"max_examples": 30, "deadline": None}


@st.composite
def cuts(draw: st.DrawFn, n: int) -> list[int]:
    """Sorted cut points in [0, n]; repeated points make empty batches."""
    points = draw(st.lists(st.integers(0, n), max_size=5))
    return sorted(points)


def split(tensors: Sequence[torch.Tensor], points: Sequence[int]) -> list[tuple[torch.Tensor, ...]]:
    """Cut every tensor along dim 0 at ``points``: one tuple of pieces per batch."""
    n = tensors[0].shape[0]
    bounds = [0, *points, n]
    return [tuple(t[a:b] for t in tensors) for a, b in itertools.pairwise(bounds)]


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def multiclass(seed: int, n: int, classes: int, extra: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores (n, classes, *extra) and class indices (n, *extra)."""
    g = generator(seed)
    return torch.randn(n, classes, *extra, generator=g), torch.randint(0, classes, (n, *extra), generator=g)


def binary(seed: int, n: int, extra: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """0/1 predictions and targets (n, *extra)."""
    g = generator(seed)
    return torch.randint(0, 2, (n, *extra), generator=g), torch.randint(0, 2, (n, *extra), generator=g)


def multilabel(seed: int, n: int, labels: int, extra: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """0/1 predictions and targets (n, labels, *extra)."""
    g = generator(seed)
    shape = (n, labels, *extra)
    return torch.randint(0, 2, shape, generator=g), torch.randint(0, 2, shape, generator=g)

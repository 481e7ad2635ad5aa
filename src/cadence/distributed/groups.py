"""Subgroups of processes for collectives: made from a list of global ranks with ``torch.distributed.new_group``."""

from __future__ import annotations

from typing import Any, TypeAlias

import torch.distributed as dist

from cadence.distributed.context import is_distributed

__all__ = ["GroupLike", "new_group", "rank_not_in_group", "resolve_group"]

#: What the collectives accept as ``group``: ``None`` (every process), a list of global ranks, or a process group.
GroupLike: TypeAlias = "dist.ProcessGroup | list[int] | None"


def _is_rank_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(rank, int) and not isinstance(rank, bool) for rank in value)


def new_group(ranks: list[int], **kwargs: Any) -> Any:
    """Make a process group of the given global ranks (every process must call it, also those outside it).

    ``kwargs`` go to ``torch.distributed.new_group`` (e.g. ``backend``, ``timeout``). In a single process
    the list of ranks itself is returned.

    Example:
        >>> new_group([0])
        [0]
    """
    if not _is_rank_list(ranks):
        raise ValueError(f"Argument ranks should be list of int, got {ranks!r}.")
    if not is_distributed():
        return ranks
    return dist.new_group(ranks, **kwargs)


def resolve_group(group: object) -> Any:
    """Turn a collective's ``group`` argument into a process group (``None``: all processes).

    A list of ranks makes a new group (a collective call: every process must pass the same list). On a
    process outside the group the result is torch's marker for "not a member" (see :func:`rank_not_in_group`).

    Example:
        >>> resolve_group(None) is None
        True
    """
    if group is None:
        return None
    if _is_rank_list(group):
        made = new_group(group)  # type: ignore[arg-type]  # checked by _is_rank_list
        return None if isinstance(made, list) else made  # a list: no process group, every rank is in
    if isinstance(group, dist.ProcessGroup) or group is dist.GroupMember.NON_GROUP_MEMBER:
        return group
    raise ValueError(f"Argument group should be list of int or ProcessGroup, got {group!r}.")


def in_group(group: Any) -> bool:
    """Whether this process belongs to ``group`` (always, for ``None`` or outside a process group)."""
    if group is None or not is_distributed():
        return True
    return group is not dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(group) >= 0


def rank_not_in_group(group: object) -> bool:
    """``True`` when this process is outside ``group`` (a list of ranks or a process group).

    Example:
        >>> rank_not_in_group([0]), rank_not_in_group(None)
        (False, False)
    """
    return not in_group(resolve_group(group))

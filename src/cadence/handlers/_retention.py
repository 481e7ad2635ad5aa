"""Which checkpoint files a :class:`~cadence.handlers.checkpoint.Checkpoint` keeps: the ``n_saved`` best (or
latest), counting the files of its own naming that an earlier run (a crash, a restart) left in its folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import NamedTuple

from cadence.distributed import broadcast, get_rank, get_world_size
from cadence.handlers._files import temporary_target
from cadence.handlers._naming import Naming
from cadence.handlers.storage import CheckpointStore, Listing

__all__ = ["Item", "find_own", "merge", "plan_retention", "ranks_among_kept", "scan"]


class Item(NamedTuple):
    """One saved file and its rank (score or global step)."""

    priority: float
    filename: str


def ranks_among_kept(kept: list[Item], priority: float, n_saved: int | None, greater_or_equal: bool) -> bool:
    """Whether a file of ``priority`` belongs among the ``n_saved`` best beside ``kept`` (worst first).

    Example:
        >>> ranks_among_kept([Item(2, "m_2.pt"), Item(4, "m_4.pt")], 3, n_saved=2, greater_or_equal=False)
        True
    """
    if n_saved is None or len(kept) < n_saved:
        return True
    worst = kept[0].priority
    return priority >= worst if greater_or_equal else priority > worst


def plan_retention(kept: list[Item], filename: str, n_saved: int | None) -> tuple[list[Item], list[Item]]:
    """Split ``kept`` (worst first) into the files a new ``filename`` displaces and those kept beside it.

    Example:
        >>> plan_retention([Item(2, "m_2.pt"), Item(4, "m_4.pt")], "m_6.pt", n_saved=2)
        ([Item(priority=2, filename='m_2.pt')], [Item(priority=4, filename='m_4.pt')])
    """
    others = [item for item in kept if item.filename != filename]  # the same name is overwritten
    if n_saved is not None and len(others) >= n_saved:
        cut = len(others) - n_saved + 1
        return others[:cut], others[cut:]
    return [], others


def scan(listing: Listing, naming: Naming, priority_field: str) -> tuple[list[Item], list[str]]:
    """Return the complete checkpoints of ``listing`` whose names are ``naming``'s, ranked by their step (or score:
    ``priority_field``), and the leftovers of interrupted saves of such names.

    Example:
        >>> listing = Listing(["model_10.pt", "model_9.pt", "model_best.pt"], [".model_12.pt.0123456789ab.tmp"])
        >>> naming = Naming("{name}_{global_step}.{ext}", {"name": "model", "ext": "pt"})
        >>> found, leftovers = scan(listing, naming, "global_step")
        >>> [item.filename for item in found], leftovers
        (['model_9.pt', 'model_10.pt'], ['.model_12.pt.0123456789ab.tmp'])
    """
    found = []
    for name in listing.complete:
        parsed = naming.parse(name)
        if parsed is None:
            continue
        priority = parsed[0] if priority_field == "global_step" else parsed[1]
        if priority is not None:
            found.append(Item(priority, name))
    leftovers = [name for name in listing.leftovers if naming.parse(temporary_target(name) or name) is not None]
    return sorted(found), sorted(leftovers)


def merge(kept: Iterable[Item], found: Iterable[Item]) -> list[Item]:
    """``kept`` and the ``found`` files it does not name yet, worst first.

    Example:
        >>> merge([Item(4, "m_4.pt")], [Item(2, "m_2.pt"), Item(4, "m_4.pt")])
        [Item(priority=2, filename='m_2.pt'), Item(priority=4, filename='m_4.pt')]
    """
    kept = list(kept)
    names = {item.filename for item in kept}
    return sorted([*kept, *(item for item in found if item.filename not in names)], key=lambda item: item.priority)


def find_own(store: CheckpointStore, naming: Naming, priority_field: str) -> list[Item]:
    """The complete checkpoints of ``naming`` that ``store`` holds (an earlier run's, after a crash or a restart),
    ranked by ``priority_field``; the leftovers of their interrupted saves are removed.

    Only the saving rank reads the store: on a folder shared by several machines, another rank would find (and
    judge) the checkpoint the saving rank has just written. For a collective store (every rank saves) the saving
    rank's findings go to every rank (one broadcast), so that all decide alike whether to save.

    Example:
        >>> import tempfile, torch
        >>> from cadence.handlers import DiskSaver
        >>> store = DiskSaver(tempfile.mkdtemp())
        >>> store({"w": torch.ones(1)}, "model_7.pt")
        >>> find_own(store, Naming("{name}_{global_step}.{ext}", {"name": "model", "ext": "pt"}), "global_step")
        [Item(priority=7, filename='model_7.pt')]
    """
    found: list[Item] = []
    if get_rank() == store.save_on_rank:
        found, leftovers = scan(store.listing(), naming, priority_field)
        for leftover in leftovers:
            store.remove(leftover)
    if store.collective and get_world_size() > 1:
        text = broadcast(json.dumps([list(item) for item in found]), src=store.save_on_rank)
        found = [Item(priority, filename) for priority, filename in json.loads(text)]
    return found

"""Which checkpoint files a :class:`~cadence.handlers.checkpoint.Checkpoint` keeps: the ``n_saved`` best (or
latest), counting the files of its own naming that an earlier run (a crash, a restart) left in its folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from cadence.handlers._naming import parse_number
from cadence.handlers.savers import is_complete, temporary_target

__all__ = ["Item", "merge", "plan_retention", "ranks_among_kept", "scan_folder"]


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


def scan_folder(folder: Path, regex: re.Pattern[str], priority_field: str) -> tuple[list[Item], list[str]]:
    """Return the files in ``folder`` whose names ``regex`` fully matches, ranked by the number its group
    ``priority_field`` catches, and the temporary files that interrupted saves of such files left.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name in ("model_10.pt", "model_9.pt", "model_best.pt", ".model_12.pt.0123456789ab.tmp"):
        ...     _ = (folder / name).write_bytes(b"")
        >>> found, temporaries = scan_folder(folder, re.compile(r"model_(?P<global_step>\\d+)\\.pt"), "global_step")
        >>> [item.filename for item in found], temporaries
        (['model_9.pt', 'model_10.pt'], ['.model_12.pt.0123456789ab.tmp'])
    """
    found, temporaries = [], []
    for path in folder.iterdir():
        target = temporary_target(path.name)
        if target is not None:
            if regex.fullmatch(target):
                temporaries.append(path.name)
            continue
        match = regex.fullmatch(path.name)
        if match and is_complete(path):
            try:
                found.append(Item(parse_number(match[priority_field]), path.name))
            except ValueError:  # e.g. a name with "nan" where a step belongs
                continue
    return sorted(found), sorted(temporaries)


def merge(kept: Iterable[Item], found: Iterable[Item]) -> list[Item]:
    """``kept`` and the ``found`` files it does not name yet, worst first.

    Example:
        >>> merge([Item(4, "m_4.pt")], [Item(2, "m_2.pt"), Item(4, "m_4.pt")])
        [Item(priority=2, filename='m_2.pt'), Item(priority=4, filename='m_4.pt')]
    """
    kept = list(kept)
    names = {item.filename for item in kept}
    return sorted([*kept, *(item for item in found if item.filename not in names)], key=lambda item: item.priority)

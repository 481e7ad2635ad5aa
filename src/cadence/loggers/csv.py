"""Dependency-free file loggers: CSV and JSON lines, one row per logging event, written by rank 0 only."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from cadence.distributed import get_rank
from cadence.loggers.logger import BaseLogger

__all__ = ["CSVLogger", "JSONLinesLogger"]


def _drop_partial_last_line(path: Path) -> None:
    """Cut ``path`` back to just after its last newline: a crash mid-write leaves an incomplete last row."""
    if not path.is_file():
        return
    with path.open("r+b") as file:
        end = file.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - 65536)
            file.seek(start)
            chunk = file.read(position - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                position = start + newline + 1
                break
            position = start
        if position < end:
            file.truncate(position)


def _file_mode(path: Path) -> int:
    """Permission bits of ``path``, or those a new file gets under the current umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class _Line(NamedTuple):
    """One written row: its text (with its newline), event name and step (``None`` if unreadable)."""

    line: str
    event: str
    step: int | None


class _LastRow(NamedTuple):
    """The row last written with ``one_row_per_step``: its step, its values and where its line starts."""

    step: int
    row: dict[str, Any]
    offset: int


def _as_step(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _rewrite(path: Path, lines: list[str], header: str) -> None:
    """Replace ``path`` by ``header`` and ``lines`` through a synced temporary file: a crash keeps one or the other."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(temporary, _file_mode(path))
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(header)
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _FileLogger(BaseLogger):
    """Opens ``path`` on rank 0 (creating its folder); other ranks write nothing."""

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False) -> None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a file path, got {path!r}.")
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a folder; give the path of the log file to write.")
        self.append = append
        self._file: TextIO | None = None
        self._closed = False
        # Events not yet written since an existing log was continued: the first row of each may replay steps.
        self._unchecked_events: set[str | None] | None = None
        if get_rank() == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._open()
            if append and self.path.stat().st_size > 0:
                self._unchecked_events = set()

    def _open(self) -> TextIO:
        if self.append:
            _drop_partial_last_line(self.path)
        return self.path.open("a" if self.append else "w", encoding="utf-8", newline="")

    def _row(self, scalars: Mapping[str, float], step: int, event_name: str) -> dict[str, Any]:
        if self._closed:
            raise ValueError(f"{type(self).__name__} for {self.path} is closed; make a new logger to write more.")
        reserved = {"event", "step"} & set(scalars)
        if reserved:
            raise ValueError(f"Scalar names {sorted(reserved)} clash with the columns 'event' and 'step'; use a tag.")
        key = self._replay_key(event_name)
        if self._unchecked_events is not None and key not in self._unchecked_events:
            self._unchecked_events.add(key)
            self._drop_replayed(key, step)
        return {"event": event_name, "step": step, **scalars}

    def _replay_key(self, event_name: str) -> str | None:
        """Whose rows a resumed run's first row of ``event_name`` replaces: that event's (``None``: every event's)."""
        return event_name

    def _drop_replayed(self, event_name: str | None, step: int) -> None:
        """A resumed run replays the steps after its checkpoint: rows of this event from ``step`` on go."""
        rows = self._read_rows()
        kept = [
            row for row in rows if not (event_name in (None, row.event) and row.step is not None and row.step >= step)
        ]
        if len(kept) < len(rows):
            assert self._file is not None
            self._file.close()
            _rewrite(self.path, [row.line for row in kept], self._header())
            self._file = self.path.open("a", encoding="utf-8", newline="")

    def _read_rows(self) -> list[_Line]:
        raise NotImplementedError

    def _header(self) -> str:
        return ""

    def close(self) -> None:
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None


class CSVLogger(_FileLogger):
    """Write scalars to a CSV file: columns ``event``, ``step``, then each scalar name; one row per logging event.

    A name that appears for the first time later in the run adds a column: the file is then rewritten
    once with the wider header (to a temporary file in the same folder, fsynced, then renamed over the
    old one) and earlier rows get empty cells, so the file is always a valid CSV with one header.
    The rewritten file keeps the log's permissions. Each row is flushed as it is written. With
    ``append=True`` an existing file is continued (its header is kept, an incomplete last line left by
    a crash is dropped); otherwise it is replaced. A continued log is the log of a resumed run: the
    first row of each event drops that event's rows at its step and after, which the run replays
    from its checkpoint, so each step is in the file once.

    With ``one_row_per_step=True`` the file has no ``event`` column and one row per step: values logged
    at the step of the last row (by other handlers, or by another engine with a ``global_step_transform``)
    are added to that row, which is written again in place. Steps must then be one axis (e.g. the
    trainer's iteration) and logged in order; a continued log drops every row from the resumed run's
    first step on.

    Example:
        >>> import csv, os, tempfile
        >>> from cadence import Engine, Events
        >>> path = os.path.join(tempfile.mkdtemp(), "train.csv")
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> with CSVLogger(path) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.EPOCH_COMPLETED, tag="train",
        ...                                      output_transform=lambda out: {"loss": out})
        ...     _ = trainer.run([1, 2], max_epochs=2)
        >>> [row["train/loss"] for row in csv.DictReader(open(path))]
        ['1.0', '1.0']
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> with CSVLogger(path, one_row_per_step=True) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train",
        ...                                      output_transform=lambda out: {"loss": out})
        ...     _ = logger.attach_output_handler(trainer, Events.EPOCH_COMPLETED, tag="train",
        ...                                      state_attributes=["epoch"],
        ...                                      global_step_transform=lambda engine, _: engine.state.iteration)
        ...     _ = trainer.run([1, 2], max_epochs=1)
        >>> print(open(path).read(), end="")
        step,train/loss,train/epoch
        1,0.5,
        2,1.0,1.0
    """

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False, one_row_per_step: bool = False) -> None:
        if not isinstance(one_row_per_step, bool):
            raise TypeError(f"one_row_per_step must be True or False, got {one_row_per_step!r}.")
        self.columns: list[str] = []
        self.one_row_per_step = one_row_per_step
        self._last: _LastRow | None = None
        super().__init__(path, append=append)
        if self._file is not None and append and self.path.stat().st_size > 0:
            with self.path.open(encoding="utf-8", newline="") as existing:
                self.columns = next(csv.reader(existing), [])
            if self.columns and ("event" in self.columns) == one_row_per_step:
                self.close()
                raise ValueError(
                    f"{self.path} was written with one_row_per_step={not one_row_per_step}; continue it with the "
                    "same setting, or write to a new file."
                )

    def _replay_key(self, event_name: str) -> str | None:
        return None if self.one_row_per_step else event_name

    def _read_rows(self) -> list[_Line]:
        with self.path.open(encoding="utf-8", newline="") as file:
            lines = file.read().splitlines(keepends=True)[1:]
        if not self.columns:
            return []
        event = self.columns.index("event") if "event" in self.columns else None
        step = self.columns.index("step")
        parsed = []
        for line in lines:
            cells = next(csv.reader([line]), [])
            name = cells[event] if event is not None and len(cells) > event else ""
            parsed.append(_Line(line, name, _as_step(cells[step]) if len(cells) > step else None))
        return parsed

    def _header(self) -> str:
        out = io.StringIO()
        csv.writer(out).writerow(self.columns)
        return out.getvalue()

    def write_scalars(self, scalars: Mapping[str, float], step: int, event_name: str) -> None:
        row = self._row(scalars, step, event_name)
        if self._file is None:
            return
        if self.one_row_per_step:
            del row["event"]
            if self._last is not None and self._last.step == step:
                # The step's row is written again with the new values: a kill in between loses only this step,
                # which a resumed run replays (its checkpoint comes after the step's logging).
                row = {**self._last.row, **row}
                self._file.truncate(self._last.offset)
        new = [name for name in row if name not in self.columns]
        if new:
            self._widen(new)
        offset = os.fstat(self._file.fileno()).st_size if self.one_row_per_step else 0  # where this row starts
        csv.writer(self._file).writerow([row.get(name, "") for name in self.columns])
        self._file.flush()
        if self.one_row_per_step:
            self._last = _LastRow(step, row, offset)

    def _widen(self, new: list[str]) -> None:
        assert self._file is not None
        self._file.close()
        rows = []
        if self.columns:
            with self.path.open(encoding="utf-8", newline="") as old:
                rows = list(csv.reader(old))[1:]
        self.columns += new
        padding = [""] * len(new)
        body = io.StringIO()
        csv.writer(body).writerows(row + padding for row in rows)
        _rewrite(self.path, body.getvalue().splitlines(keepends=True), self._header())
        self._file = self.path.open("a", encoding="utf-8", newline="")


class JSONLinesLogger(_FileLogger):
    """Write scalars as JSON lines: one object ``{"event": ..., "step": ..., name: value...}`` per logging event.

    Each line is flushed as it is written; new names need no special care. Non-finite values are written
    as ``NaN``/``Infinity`` (Python's and pandas' JSON readers accept them). With ``append=True`` an
    existing file is continued (an incomplete last line left by a crash is dropped, and, as for
    :class:`CSVLogger`, the rows a resumed run replays); otherwise it is replaced.

    Example:
        >>> import json, os, tempfile
        >>> from cadence import Engine, Events
        >>> path = os.path.join(tempfile.mkdtemp(), "train.jsonl")
        >>> trainer = Engine(lambda engine, batch: batch)
        >>> with JSONLinesLogger(path) as logger:
        ...     _ = logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train",
        ...                                      output_transform=lambda out: out)
        ...     _ = trainer.run([3, 4])
        >>> [json.loads(line) for line in open(path)][1]
        {'event': 'iteration_completed', 'step': 2, 'train/output': 4.0}
    """

    def _read_rows(self) -> list[_Line]:
        parsed = []
        with self.path.open(encoding="utf-8") as file:
            for line in file:
                try:
                    record = json.loads(line)
                except ValueError:
                    record = {}
                record = record if isinstance(record, dict) else {}
                parsed.append(_Line(line, str(record.get("event", "")), _as_step(record.get("step"))))
        return parsed

    def write_scalars(self, scalars: Mapping[str, float], step: int, event_name: str) -> None:
        row = self._row(scalars, step, event_name)
        if self._file is None:
            return
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

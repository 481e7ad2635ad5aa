"""Asynchronous checkpoint saves: the state is copied on the loop's thread, the file written on a writer thread.

:class:`StateSnapshot` copies every tensor of a state tree to CPU memory into buffers that it keeps and reuses
from one save to the next (pinned, and copied without blocking, for CUDA tensors), so that a save costs the
loop one memory copy. :class:`BackgroundWriter` runs one write at a time on a non-daemon thread: the
interpreter waits for it before exiting, and an error nobody has raised yet is printed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["BackgroundSaves", "BackgroundWriter", "Snapshot", "StateSnapshot", "check_async_handler"]

Path = tuple[Any, ...]


@dataclass
class Snapshot:
    """A copy of a state tree; ``ready()`` waits until its device-to-host copies have landed."""

    state: Any
    events: list[Any] = field(default_factory=list)  # torch.cuda.Event, one per CUDA device copied from

    def ready(self) -> None:
        """Block until the copies are complete (they were queued on the devices' streams without waiting)."""
        for event in self.events:
            event.synchronize()


def _tensors(tree: Any, path: Path = ()) -> Iterator[tuple[Path, torch.Tensor]]:
    if isinstance(tree, torch.Tensor):
        yield path, tree
    elif isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _tensors(value, (*path, key))
    elif isinstance(tree, list | tuple):
        for index, value in enumerate(tree):
            yield from _tensors(value, (*path, index))


def _copied_into_a_buffer(tensor: torch.Tensor) -> bool:
    """Plain dense tensors are copied into reused buffers; anything else (a subclass, sparse, quantized,
    with autograd history or lazy conjugation) is left to ``copy.deepcopy``, which keeps exactly what it is."""
    return (
        type(tensor) is torch.Tensor
        and tensor.layout == torch.strided
        and not tensor.requires_grad
        and not tensor.is_quantized
        and not tensor.is_conj()
        and not tensor.is_neg()
        and tensor.device.type != "meta"
    )


@contextlib.contextmanager
def _one_intra_op_thread() -> Iterator[None]:
    """Copies are bound by memory bandwidth, which one thread nearly fills; split over threads they wait for the
    slowest one at every tensor, and on a busy machine that made a 600 MB snapshot 4.5x slower (195 ms vs 43 ms
    per 160 MB on 2 shared cores)."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class StateSnapshot:
    """Take copies of a state tree, reusing the CPU buffers of the previous copy where shapes match.

    The copy has the same containers (``OrderedDict`` and its ``_metadata`` included) and values as the
    tree; every plain tensor becomes a CPU tensor, and tensors that are the same view of the same memory
    stay one tensor. Buffers are reused by position in the tree, so a copy is valid until the next
    :meth:`take`.

    Example:
        >>> snapshots = StateSnapshot()
        >>> weight = torch.ones(2)
        >>> first = snapshots.take({"model": {"weight": weight}})
        >>> _ = weight.add_(1)
        >>> first.state, first.state["model"]["weight"] is weight
        ({'model': {'weight': tensor([1., 1.])}}, False)
    """

    def __init__(self) -> None:
        self._buffers: dict[Path, tuple[torch.Tensor, bool]] = {}

    def _buffer(self, path: Path, tensor: torch.Tensor, pinned: bool) -> torch.Tensor:
        kept = self._buffers.get(path)
        if kept is not None:
            buffer, was_pinned = kept
            if (buffer.shape, buffer.dtype, buffer.stride(), was_pinned) == (
                tensor.shape,
                tensor.dtype,
                tensor.stride(),
                pinned,
            ):
                return buffer
        return torch.empty_like(tensor, device="cpu", pin_memory=pinned)

    def take(self, tree: Any) -> Snapshot:
        """Copy ``tree``; the returned snapshot is :meth:`Snapshot.ready` once its device copies are done."""
        memo: dict[int, Any] = {}
        copies: dict[tuple[Any, ...], torch.Tensor] = {}
        buffers: dict[Path, tuple[torch.Tensor, bool]] = {}
        cuda_devices: set[torch.device] = set()
        with _one_intra_op_thread():
            for path, tensor in _tensors(tree):
                if id(tensor) in memo or not _copied_into_a_buffer(tensor):
                    continue
                alias = (tensor.device, tensor.data_ptr(), tensor.dtype, tensor.shape, tensor.stride())
                copied = copies.get(alias)
                if copied is None:
                    pinned = tensor.is_cuda
                    copied = self._buffer(path, tensor, pinned)
                    copied.copy_(tensor, non_blocking=pinned)
                    copies[alias] = copied
                    buffers[path] = (copied, pinned)
                    if pinned:
                        cuda_devices.add(tensor.device)
                memo[id(tensor)] = copied
        self._buffers = buffers  # buffers of entries gone from the state are let go
        events = []
        for device in cuda_devices:
            event = torch.cuda.Event()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            event.record(torch.cuda.current_stream(device))
            events.append(event)
        # deepcopy rebuilds the containers (and copies non-tensor values), taking the tensors from the memo
        return Snapshot(copy.deepcopy(tree, memo), events)


_writers: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


class BackgroundWriter:
    """Run one job at a time on a writer thread; keep the error of a job until :meth:`take_error`.

    The thread is not a daemon: a process that ends while a write is in flight first finishes it.

    Example:
        >>> writer, written = BackgroundWriter("demo"), []
        >>> writer.submit(lambda: written.append("file"))
        >>> writer.join()
        >>> written
        ['file']
        >>> writer.submit(lambda: 1 / 0)
        >>> writer.join()
        >>> type(writer.take_error()).__name__
        'ZeroDivisionError'
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._thread is not None and self._thread.is_alive()

    def submit(self, job: Callable[[], None]) -> None:
        """Start ``job`` on a new writer thread, once the previous job is over."""
        self.join()
        thread = threading.Thread(target=self._run, args=(job,), name="cadence-checkpoint-writer", daemon=False)
        self._thread = thread
        _writers.add(self)
        thread.start()

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # kept for the loop's thread, which raises it
            self._error = exc

    def join(self) -> None:
        """Wait until the job in flight (if any) is over."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def take_error(self) -> BaseException | None:
        """The error of the last job, once (later calls return ``None`` until another job fails)."""
        error, self._error = self._error, None
        return error


@atexit.register
def _report_unraised_errors() -> None:
    """At exit the writer threads are over (Python joins non-daemon threads first); print any error that the
    program never saw, so that a failed background save is never silent."""
    for writer in list(_writers):
        writer.join()
        error = writer.take_error()
        if error is not None:
            print(
                f"cadence: the background save of {writer.description} failed and the program ended before the "
                "error could be raised (at the next save, Checkpoint.wait() or the run's end); the checkpoints "
                "written before it are intact.",
                file=sys.stderr,
            )
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)


def check_async_handler(save_handler: object) -> None:
    """Refuse, at construction, a save handler that cannot write in the background.

    Example:
        >>> check_async_handler(lambda checkpoint, filename: None)
        Traceback (most recent call last):
        ...
        TypeError: async_save=True needs a save handler that can write in the background, ...
    """
    if not getattr(save_handler, "supports_async_save", False):
        raise TypeError(
            f"async_save=True needs a save handler that can write in the background, got {save_handler!r} "
            f"({type(save_handler).__name__}), which cannot (it has no supports_async_save = True). Give a folder or "
            "a DiskSaver; or, in your BaseSaveHandler subclass, implement save_in_background and set "
            "supports_async_save = True; or pass async_save=False."
        )


class BackgroundSaves:
    """The asynchronous side of a checkpoint: at most one save in flight; its completion (and error) is taken
    up on the loop's thread by :meth:`finish`.

    Example:
        >>> import tempfile, os
        >>> from cadence.handlers import DiskSaver
        >>> saves = BackgroundSaves(DiskSaver(tempfile.mkdtemp()))
        >>> saves.start("engine", {"w": torch.ones(2)}, "model_1.pt", {}, then=lambda: None)
        >>> saves.finish(), os.listdir(saves.save_handler.dirname)
        ('engine', ['model_1.pt'])
    """

    def __init__(self, save_handler: Any, writes_here: Callable[[], bool] | None = None) -> None:
        check_async_handler(save_handler)
        self.save_handler = save_handler
        self._writes_here = writes_here or (lambda: True)
        self._snapshots = StateSnapshot()
        self._writer = BackgroundWriter(repr(save_handler))
        self._pending: tuple[Any, str] | None = None

    def start(self, owner: Any, checkpoint: Any, filename: str, metadata: Any, *, then: Callable[[], None]) -> None:
        """Snapshot ``checkpoint``, then save it in the background and call ``then()`` on the writer thread once
        it is complete. The caller has :meth:`finish` ed the previous save. A store that does not write on this rank
        writes nothing here: no snapshot is taken."""
        snapshot = self._snapshots.take(checkpoint) if self._writes_here() else None

        def job() -> None:
            if snapshot is not None:
                snapshot.ready()
                self.save_handler.save_in_background(snapshot.state, filename, metadata)
            then()

        self._writer.submit(job)
        self._pending = (owner, filename)

    def join(self) -> None:
        """Wait for the save in flight, leaving its outcome for :meth:`finish`."""
        self._writer.join()

    def finish(self) -> Any:
        """Wait for the save in flight; raise its error, or complete it (``after_background_save``) and return
        the ``owner`` it was started with (``None`` when no save was pending)."""
        self._writer.join()
        pending, self._pending = self._pending, None
        error = self._writer.take_error()
        if error is not None:
            if pending is not None and hasattr(error, "add_note"):
                error.add_note(f"(raised by the background save of {pending[1]!r}: the run's async_save=True)")
            raise error
        if pending is None:
            return None
        self.save_handler.after_background_save(pending[1])
        return pending[0]

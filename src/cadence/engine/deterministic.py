"""An engine whose runs repeat bit for bit, also when stopped and resumed anywhere."""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ParamSpec, TypeVar

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from cadence.data import capture_rng_states, manual_seed, reproducible_dataloader, restore_rng_states
from cadence.data.position import positions_directly
from cadence.engine.engine import Engine
from cadence.engine.events import Events
from cadence.engine.state import State

__all__ = ["DeterministicEngine", "ReproducibleBatchSampler", "keep_random_state", "update_dataloader"]

OutputT = TypeVar("OutputT")
P = ParamSpec("P")
_EXHAUSTED = object()
R = TypeVar("R")


class ReproducibleBatchSampler(BatchSampler):
    """Wraps a ``BatchSampler``: an epoch's batches are drawn when its iteration starts, then replayed from any batch.

    This is Ignite's wrapper (``ignite.engine.deterministic.ReproducibleBatchSampler``): seeding torch
    before ``iter()`` fixes the epoch's batches, and ``start_iteration`` skips the first batches of the
    next epoch only. cadence's own :class:`cadence.data.ReproducibleBatchSampler` orders batches from
    ``(seed, epoch)`` without touching the global RNG.

    Args:
        batch_sampler: the ``torch.utils.data.BatchSampler`` to wrap.
        start_iteration: the batch of the next epoch to start from (``None`` or 0: the first).

    Example:
        >>> from torch.utils.data import SequentialSampler
        >>> sampler = ReproducibleBatchSampler(BatchSampler(SequentialSampler(range(6)), 2, False), start_iteration=1)
        >>> list(sampler), list(sampler)
        ([[2, 3], [4, 5]], [[0, 1], [2, 3], [4, 5]])
    """

    def __init__(self, batch_sampler: BatchSampler, start_iteration: int | None = None) -> None:
        if not isinstance(batch_sampler, BatchSampler):
            raise TypeError(
                "Argument batch_sampler should be torch.utils.data.sampler.BatchSampler, "
                f"got {type(batch_sampler).__name__}."
            )
        if start_iteration is not None and (not isinstance(start_iteration, int) or start_iteration < 0):
            raise ValueError(f"start_iteration must be None or a non-negative integer, got {start_iteration!r}.")
        self.batch_sampler = batch_sampler
        self.sampler = batch_sampler.sampler
        self.batch_size = batch_sampler.batch_size
        self.drop_last = batch_sampler.drop_last
        self.start_iteration = start_iteration
        self.batch_indices: list[list[int]] | None = None

    def setup_batch_indices(self) -> None:
        """Draw this epoch's batches from the wrapped sampler now (with the current random state)."""
        self.batch_indices = [list(batch) for batch in self.batch_sampler]

    def __iter__(self) -> Iterator[list[int]]:
        self.setup_batch_indices()
        assert self.batch_indices is not None
        start, self.start_iteration = self.start_iteration or 0, None
        yield from self.batch_indices[start:]

    def __len__(self) -> int:
        return len(self.batch_sampler)


def update_dataloader(dataloader: DataLoader[Any], new_batch_sampler: BatchSampler) -> DataLoader[Any]:
    """A copy of ``dataloader`` (same dataset, workers, collate function...) that reads ``new_batch_sampler``.

    Example:
        >>> from torch.utils.data import SequentialSampler
        >>> loader = DataLoader(list(range(4)), batch_size=2)
        >>> new = update_dataloader(loader, BatchSampler(SequentialSampler(range(4)), 4, False))
        >>> [batch.tolist() for batch in new]
        [[0, 1, 2, 3]]
    """
    if not isinstance(dataloader, DataLoader):
        raise TypeError(f"update_dataloader needs a torch.utils.data.DataLoader, got {type(dataloader).__name__}.")
    kwargs: dict[str, Any] = {
        "num_workers": dataloader.num_workers,
        "collate_fn": dataloader.collate_fn,
        "pin_memory": dataloader.pin_memory,
        "timeout": dataloader.timeout,
        "worker_init_fn": dataloader.worker_init_fn,
        "multiprocessing_context": dataloader.multiprocessing_context,
        "generator": dataloader.generator,
        "persistent_workers": dataloader.persistent_workers,
        "pin_memory_device": dataloader.pin_memory_device,
    }
    if dataloader.num_workers > 0:
        kwargs["prefetch_factor"] = dataloader.prefetch_factor
    return DataLoader(dataloader.dataset, batch_sampler=new_batch_sampler, **kwargs)


def keep_random_state(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``func`` so that the Python, NumPy and torch (CPU) random states are the same after it as before.

    Example:
        >>> @keep_random_state
        ... def draw():
        ...     return torch.rand(1)
        >>> before = torch.get_rng_state()
        >>> _ = draw()
        >>> torch.equal(torch.get_rng_state(), before)
        True
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        python_state, torch_state = random.getstate(), torch.get_rng_state()
        try:
            import numpy as np
        except ImportError:
            np = None  # type: ignore[assignment]  # NumPy is optional: only its state is skipped
        numpy_state = np.random.get_state() if np is not None else None
        try:
            return func(*args, **kwargs)
        finally:
            random.setstate(python_state)
            torch.set_rng_state(torch_state)
            if np is not None:
                np.random.set_state(numpy_state)

    return wrapper


class DeterministicEngine(Engine[OutputT]):
    """An :class:`~cadence.Engine` that seeds, records and restores every source of randomness.

    On a fresh run it seeds Python, NumPy and torch (CPU and CUDA) from ``seed`` and turns on
    ``torch.use_deterministic_algorithms`` (warning-only by default). Its ``state_dict()`` adds the
    seed and the RNG states of all of them, which ``load_state_dict()`` restores when the resumed run
    starts, so a run stopped anywhere and resumed from a checkpoint makes the same random draws.
    A plain ``DataLoader`` with a ``RandomSampler``/``SequentialSampler`` is rebuilt with
    :func:`cadence.data.reproducible_dataloader`, whose order depends only on ``(seed, epoch)``
    and can be positioned mid-epoch in O(1).

    Args:
        process_function: as for :class:`~cadence.Engine`.
        seed: the run's seed (also ``engine.state.seed``). ``None`` (Ignite's way) draws it from torch's
            random state when a run starts, so ``torch.manual_seed(s)`` before ``run()`` fixes the run.
        warn_only: passed to ``torch.use_deterministic_algorithms``; ``False`` makes a
            non-deterministic operation an error instead of a warning.

    Every epoch that starts from its first iteration reseeds all generators with ``seed + epoch index``
    (as Ignite), so an epoch's random draws depend only on the seed and the epoch. A resumed run restores
    the RNG states saved in its checkpoint; a checkpoint without them (``rng_states=None``) replays the
    resumed epoch from its start seed.

    Example:
        >>> import torch
        >>> engine = DeterministicEngine(lambda e, b: torch.rand(1).item(), seed=7)
        >>> first = engine.run([0, 1, 2]).output
        >>> DeterministicEngine(lambda e, b: torch.rand(1).item(), seed=7).run([0, 1, 2]).output == first
        True
    """

    _optional_state_keys = Engine._optional_state_keys | {"seed", "rng_states"}

    def __init__(
        self,
        process_function: Callable[[Engine[OutputT], Any], OutputT],
        *,
        seed: int | None = None,
        warn_only: bool = True,
    ) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}.")
        super().__init__(process_function)
        self.state.seed = seed
        self._fixed_seed = seed is not None
        self._warn_only = warn_only
        # As Ignite: RNG states that load_state_dict took and the resumed run restores, then None again.
        self.state.rng_states = None
        self._replay_resumed_epoch = False  # a resume without RNG states reseeds the resumed epoch's start
        self.add_event_handler(Events.EPOCH_STARTED, self._seed_epoch)

    def _seed_epoch(self) -> None:
        """Reseed every generator at an epoch's start: its draws then depend only on (seed, epoch)."""
        if self._epoch_iteration == 0 or self._replay_resumed_epoch:
            self._replay_resumed_epoch = False
            assert self.state.seed is not None
            manual_seed(self.state.seed + self.state.epoch - 1)

    def run(
        self,
        data: Iterable[Any] | None = None,
        max_epochs: int | None = None,
        epoch_length: int | None = None,
        max_iters: int | None = None,
    ) -> State:
        """Run like :meth:`Engine.run`, seeding a fresh run and restoring RNG states on a resumed one."""
        if data is None and self.state.dataloader is None:
            raise ValueError(
                "Deterministic engine does not support the option of data=None. Please, provide data as iterable: "
                "its order and random draws are what this engine makes repeatable (use Engine for data=None)."
            )
        limited = self.state.max_epochs is not None or self.state.max_iters is not None
        finished = self._run_gen is None and limited and self._is_done()
        if self.state.seed is None or (finished and not self._fixed_seed):
            self.state.seed = int(torch.randint(0, 2**31 - 1, (1,)).item())  # Ignite's way: from torch's state
        torch.use_deterministic_algorithms(True, warn_only=self._warn_only)
        if data is not None:
            data = self._reproducible(data)
        if self.state.rng_states is not None:
            restore_rng_states(self.state.rng_states)
            self.state.rng_states = None
        return super().run(data, max_epochs=max_epochs, epoch_length=epoch_length, max_iters=max_iters)

    def _new_iterator(self, *, new_pass: bool = False) -> Iterator[Any]:
        """Open the data with torch seeded from ``(seed, pass)`` when its order comes from the global RNG.

        A DataLoader whose sampler draws from torch's global generator (a ``WeightedRandomSampler``, a
        custom sampler...) then orders each pass the same way in a resumed run, wherever the pass began.
        The first batch is read inside that window (samplers draw when iteration starts) and the global
        random state is put back after it, so the model's own draws are not disturbed.
        """
        data = self.state.dataloader
        if self.state.seed is None or not isinstance(data, DataLoader) or positions_directly(data):
            return super()._new_iterator(new_pass=new_pass)
        pass_index, _ = self._stream_position()
        outside = capture_rng_states()
        manual_seed(self.state.seed + pass_index)
        try:
            iterator = super()._new_iterator(new_pass=new_pass)
            first = next(iterator, _EXHAUSTED)
        finally:
            restore_rng_states(outside)
        return iter(()) if first is _EXHAUSTED else itertools.chain([first], iterator)

    def _start_fresh(
        self, data: Iterable[Any] | None, max_epochs: int | None, epoch_length: int | None, max_iters: int | None
    ) -> None:
        assert self.state.seed is not None
        manual_seed(self.state.seed)
        super()._start_fresh(data, max_epochs, epoch_length, max_iters)

    def _reproducible(self, data: Iterable[Any]) -> Iterable[Any]:
        """Rebuild a standard shuffling/sequential DataLoader so its order depends only on (seed, epoch)."""
        if data is self.state.dataloader or type(data) is not DataLoader:
            return data
        sampler, batch_sampler = data.sampler, data.batch_sampler
        standard_sampler = type(sampler) is SequentialSampler or (
            type(sampler) is RandomSampler and not sampler.replacement and sampler._num_samples is None
        )
        if type(batch_sampler) is not BatchSampler or not standard_sampler or data.persistent_workers:
            return data
        assert self.state.seed is not None
        kwargs: dict[str, Any] = {"collate_fn": data.collate_fn, "pin_memory": data.pin_memory, "timeout": data.timeout}
        if data.num_workers > 0:
            kwargs["prefetch_factor"] = data.prefetch_factor
            if data.worker_init_fn is not None:
                kwargs["worker_init_fn"] = data.worker_init_fn
        return reproducible_dataloader(
            data.dataset,
            batch_sampler.batch_size,
            shuffle=type(sampler) is RandomSampler,
            seed=self.state.seed,
            num_workers=data.num_workers,
            drop_last=batch_sampler.drop_last,
            **kwargs,
        )

    def state_dict(self) -> dict[str, Any]:
        """The engine's :meth:`Engine.state_dict` plus ``rng_states`` and (once known) the ``seed``.

        Example:
            >>> engine = DeterministicEngine(lambda e, b: None, seed=3)
            >>> _ = engine.run([0])
            >>> sorted(engine.state_dict())
            ['data_length', 'epoch_length', 'iteration', 'max_epochs', 'rng_states', 'seed']
        """
        extra: dict[str, Any] = {"seed": self.state.seed} if self.state.seed is not None else {}
        return {**super().state_dict(), **extra, "rng_states": capture_rng_states()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a position saved by :meth:`state_dict`; the RNG states are restored when ``run()`` resumes.

        A state without ``rng_states`` (or with ``None``, as Ignite writes) resumes by reseeding the
        resumed epoch from its start; one without ``seed`` draws the seed when the run starts.

        Raises:
            ValueError: the checkpoint was made with another seed than the one this engine was given.
        """
        saved_seed = state_dict.get("seed")
        if (self._fixed_seed or self._starting) and saved_seed is not None and saved_seed != self.state.seed:
            when = "the run that is starting has" if self._starting else "this engine has"
            raise ValueError(
                f"The checkpoint was made with seed={saved_seed}, {when} seed={self.state.seed}; resume with the "
                "same seed, load the checkpoint before run(), or start a fresh run."
            )
        super().load_state_dict(state_dict)
        if not self._fixed_seed and not self._starting:
            self.state.seed = saved_seed
        self.state.rng_states = state_dict.get("rng_states")
        self._replay_resumed_epoch = self.state.rng_states is None
        if self._starting and self.state.rng_states is not None:  # loaded from a STARTED handler: run() has begun
            restore_rng_states(self.state.rng_states)
            self.state.rng_states = None

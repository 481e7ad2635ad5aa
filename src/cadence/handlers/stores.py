"""Keep every output of an epoch in memory: :class:`EpochOutputStore`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cadence.engine import Engine, Events

__all__ = ["EpochOutputStore"]


class EpochOutputStore:
    """Collect ``output_transform(engine.state.output)`` of each iteration of the current epoch in :attr:`data`.

    :meth:`attach` empties the list when an epoch starts and appends at each ``ITERATION_COMPLETED``;
    with a ``name``, the list is also put on ``engine.state.<name>`` when the epoch completes.
    Everything stays in memory: use it for evaluation outputs of a modest size.

    Attributes:
        data: the transformed outputs of the current (or last) epoch, in iteration order.
        name: the ``engine.state`` attribute given to :meth:`attach`, or ``None``.

    Example:
        >>> evaluator = Engine(lambda engine, batch: batch * 10)
        >>> store = EpochOutputStore()
        >>> store.attach(evaluator, name="outputs")
        >>> _ = evaluator.run([1, 2, 3])
        >>> store.data, evaluator.state.outputs
        ([10, 20, 30], [10, 20, 30])
    """

    def __init__(self, output_transform: Callable[[Any], Any] = lambda output: output) -> None:
        if not callable(output_transform):
            raise TypeError(f"output_transform must be callable, got {output_transform!r}.")
        self.output_transform = output_transform
        self.data: list[Any] = []
        self.name: str | None = None

    def reset(self) -> None:
        """Empty :attr:`data`."""
        self.data = []

    def update(self, engine: Engine[Any]) -> None:
        """Append the transformed output of ``engine``'s current iteration to :attr:`data`."""
        self.data.append(self.output_transform(engine.state.output))

    def store(self, engine: Engine[Any]) -> None:
        """Put :attr:`data` on ``engine.state`` under the name given to :meth:`attach`."""
        if self.name is None:
            raise ValueError("EpochOutputStore.store needs a name: attach it with attach(engine, name='...').")
        setattr(engine.state, self.name, self.data)

    def attach(self, engine: Engine[Any], name: str | None = None) -> None:
        """Collect ``engine``'s outputs each epoch; with ``name``, also publish them as ``engine.state.<name>``."""
        if name is not None and (not isinstance(name, str) or not name.isidentifier()):
            raise ValueError(f"name must be a valid attribute name for engine.state, got {name!r}.")
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.update)
        if name:
            self.name = name
            engine.add_event_handler(Events.EPOCH_COMPLETED, self.store)

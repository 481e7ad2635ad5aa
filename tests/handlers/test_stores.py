from typing import Any

import pytest

from cadence import Engine, Events
from cadence.handlers import EpochOutputStore


def test_collects_each_epoch_afresh_and_publishes_on_state() -> None:
    engine = Engine(lambda engine, batch: (batch, batch * 2))
    store = EpochOutputStore(output_transform=lambda output: output[1])
    store.attach(engine, name="doubled")
    seen: list[list[Any]] = []
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(list(e.state.doubled)))
    engine.run([1, 2, 3], max_epochs=2)
    assert seen == [[2, 4, 6], [2, 4, 6]]
    assert store.data == [2, 4, 6]
    assert engine.has_event_handler(store.reset, Events.EPOCH_STARTED)
    store.reset()
    assert store.data == []


def test_without_a_name_nothing_goes_on_state() -> None:
    engine = Engine(lambda engine, batch: batch)
    store = EpochOutputStore()
    store.attach(engine)
    engine.run([5])
    assert store.data == [5] and not hasattr(engine.state, "None")
    with pytest.raises(ValueError, match="needs a name"):
        store.store(engine)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="output_transform must be callable"):
        EpochOutputStore(output_transform=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="valid attribute name"):
        EpochOutputStore().attach(Engine(lambda e, b: b), name="not a name")

"""Events, filters and ``|`` joins, checked through real engine runs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadence import CallableEventWithFilter, Engine, EventEnum, EventFilter, Events, EventsList


def fired_at(event: CallableEventWithFilter, *, iterations: int = 20, epochs: int = 1) -> list[int]:
    engine = Engine(lambda e, b: None)
    seen: list[int] = []
    counter = "iteration" if "iteration" in event.value or "batch" in event.value else "epoch"
    engine.add_event_handler(event, lambda e: seen.append(getattr(e.state, counter)))
    engine.run(range(iterations), max_epochs=epochs)
    return seen


@given(every=st.integers(1, 25))
def test_every_fires_on_multiples(every: int) -> None:
    assert fired_at(Events.ITERATION_COMPLETED(every=every)) == [i for i in range(1, 21) if i % every == 0]


@given(once=st.one_of(st.integers(1, 25), st.lists(st.integers(1, 25), min_size=1, max_size=5)))
def test_once_fires_on_given_counters(once: int | list[int]) -> None:
    wanted = {once} if isinstance(once, int) else set(once)
    assert fired_at(Events.ITERATION_STARTED(once=once)) == sorted(w for w in wanted if w <= 20)


@given(
    every=st.one_of(st.none(), st.integers(1, 6)),
    before=st.one_of(st.none(), st.integers(0, 25)),
    after=st.one_of(st.none(), st.integers(0, 25)),
)
def test_before_after_every_combine(every: int | None, before: int | None, after: int | None) -> None:
    if before is None and after is None:
        return
    if before is not None and after is not None and before <= after + 1:
        with pytest.raises(ValueError, match="can never fire"):
            Events.ITERATION_COMPLETED(every=every, before=before, after=after)
        return
    event = Events.ITERATION_COMPLETED(every=every, before=before, after=after)
    start = (after or 0) + 1  # with bounds, every counts from the first counter after `after` (Ignite's rule)
    expected = [
        i
        for i in range(1, 21)
        if (every is None or (i - start) % every == 0)
        and (before is None or i < before)
        and (after is None or i > after)
    ]
    assert fired_at(event) == expected


def test_custom_event_filter_gets_engine_and_counter() -> None:
    calls: list[tuple[object, int]] = []

    def only_odd_epochs(engine: Engine[None], epoch: int) -> bool:
        calls.append((engine, epoch))
        return epoch % 2 == 1

    assert fired_at(Events.EPOCH_COMPLETED(event_filter=only_odd_epochs), iterations=2, epochs=5) == [1, 3, 5]
    assert [c for _, c in calls] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"every": 2, "once": 3},
        {"once": 2, "before": 5},
        {"event_filter": lambda e, c: True, "every": 2},
        {"event_filter": lambda e, c: True, "after": 1},
    ],
)
def test_conflicting_filter_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Only one of the input arguments should be specified, except before"):
        Events.ITERATION_COMPLETED(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"every": 0}, {"every": -2}, {"once": 0}, {"once": []}, {"before": -1}, {"after": -3}, {"every": 1.5}],
)
def test_non_positive_filter_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"Argument (every|once|before|after) should"):
        Events.ITERATION_COMPLETED(**kwargs)  # type: ignore[arg-type]


def test_filter_needs_an_argument_and_event_filter_must_be_callable() -> None:
    with pytest.raises(ValueError, match="needs one of"):
        EventFilter()
    with pytest.raises(TypeError, match="callable"):
        Events.ITERATION_COMPLETED(event_filter=3)  # type: ignore[arg-type]


def test_event_filter_with_wrong_signature_is_refused_when_made() -> None:
    with pytest.raises(TypeError, match=r"'event_filter': takes parameters \['only_one'\] but will be called with"):
        Events.ITERATION_COMPLETED(event_filter=lambda only_one: True)
    with pytest.raises(ValueError, match="event_filter"):  # also a ValueError, as in Ignite
        Events.ITERATION_COMPLETED(event_filter=lambda only_one: True)


def test_every_one_is_the_plain_event() -> None:
    assert Events.ITERATION_COMPLETED(every=1) is Events.ITERATION_COMPLETED


def test_filtered_event_equals_its_base_and_its_value() -> None:
    filtered = Events.EPOCH_COMPLETED(every=3)
    assert filtered == Events.EPOCH_COMPLETED
    assert filtered == "epoch_completed"
    assert hash(filtered) == hash(Events.EPOCH_COMPLETED)
    assert filtered != Events.EPOCH_STARTED
    assert "every=3" in repr(filtered)


def test_filters_are_values_and_a_user_function_filter_equals_the_function() -> None:
    def odd(engine: object, counter: int) -> bool:
        return counter % 2 == 1

    def handler(engine: Engine) -> None:
        pass

    only_odd = Events.ITERATION_COMPLETED(event_filter=odd).filter
    assert only_odd == odd and odd == only_odd and hash(only_odd) == hash(odd)  # Ignite's filter is odd itself
    assert len({only_odd, odd}) == 1 and {odd: "found"}[only_odd] == "found"
    assert only_odd == Events.ITERATION_STARTED(event_filter=odd).filter
    assert EventFilter(every=2, after=3) == EventFilter(every=2, after=3)
    assert hash(EventFilter(every=2, after=3)) == hash(EventFilter(every=2, after=3))
    assert len({EventFilter(once=[3, 1]), EventFilter(once=[1, 3]), EventFilter(every=2)}) == 2
    assert EventFilter(every=2) != EventFilter(every=3) and EventFilter(every=2) != odd and only_odd != handler

    engine = Engine(lambda e, b: None)
    engine.add_event_handler(Events.ITERATION_COMPLETED(event_filter=odd), handler)
    assert engine.has_event_handler(handler) and engine.has_event_handler(handler, Events.ITERATION_COMPLETED)
    engine.remove_event_handler(handler, Events.ITERATION_COMPLETED(event_filter=odd))
    assert not engine.has_event_handler(handler)


def test_events_list_attaches_to_each_event_and_keeps_filters() -> None:
    engine = Engine(lambda e, b: None)
    seen: list[str] = []
    events = Events.STARTED | Events.EPOCH_COMPLETED(every=2) | Events.COMPLETED
    assert isinstance(events, EventsList) and len(events) == 3
    engine.add_event_handler(events, lambda e: seen.append(f"{e.state.epoch}"))
    engine.run([0], max_epochs=4)
    assert seen == ["0", "2", "4", "4"]
    with pytest.raises(TypeError, match="Argument event should be Events or CallableEventWithFilter"):
        _ = Events.STARTED | 3


def test_custom_event_enum_members_are_filterable() -> None:
    class Custom(EventEnum):
        STEP = "custom_step"

    assert Custom.STEP.value == "custom_step"
    assert Custom.STEP(every=2).filter is not None
    assert Custom.STEP(every=2) == Custom.STEP
    assert len(Custom.STEP | Events.STARTED) == 2


def test_handlers_with_the_same_every_keep_their_order_among_others() -> None:
    engine = Engine(lambda e, b: None)
    calls: list[str] = []
    for name, event in [
        ("a", Events.ITERATION_COMPLETED(every=2)),
        ("b", Events.ITERATION_COMPLETED(every=2)),
        ("c", Events.ITERATION_COMPLETED),
        ("d", Events.ITERATION_COMPLETED(every=2)),
        ("e", Events.ITERATION_COMPLETED(every=3)),
        ("f", Events.ITERATION_COMPLETED(once=4)),
    ]:
        engine.add_event_handler(event, lambda e, name=name: calls.append(f"{name}{e.state.iteration}"))
    engine.run(range(4))
    assert calls == ["c1", "a2", "b2", "c2", "d2", "c3", "e3", "a4", "b4", "c4", "d4", "f4"]

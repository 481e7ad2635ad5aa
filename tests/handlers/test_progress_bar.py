"""ProgressBar: captured output through real engine runs, silence rules, and errors."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

import cadence.handlers.progress_bar as progress_bar_module
from cadence import Engine, Events
from cadence.handlers.progress_bar import ProgressBar


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def final_lines(text: str) -> list[str]:
    """What a terminal shows at the end: the last carriage-return segment of each finished line."""
    return [line.split("\r")[-1] for line in text.split("\n") if line.strip("\r")]


def trainer_with_metrics() -> Engine[dict[str, float]]:
    trainer: Engine[dict[str, float]] = Engine(lambda engine, batch: {"loss": 1.0 / (batch + 1)})

    @trainer.on(Events.ITERATION_COMPLETED)
    def running_metrics(engine: Engine[Any]) -> None:
        engine.state.metrics["accuracy"] = 0.5 + engine.state.iteration / 100
        engine.state.metrics["per_class"] = torch.tensor([0.25, 0.75])

    return trainer


def test_bar_shows_chosen_metrics_and_iteration_count() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    ProgressBar(persist=True, file=stream, disable=False).attach(trainer, metric_names=["accuracy", "per_class"])
    trainer.run(range(8), max_epochs=3)
    text = stream.getvalue()
    lines = final_lines(text)
    assert len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch [{epoch}/3]: [8/8] 100%")
        assert f"accuracy={0.5 + epoch * 8 / 100:.3g}" in line
        assert "per_class_0=0.25, per_class_1=0.75" in line
        assert line.endswith("[00:00<00:00]")  # Ignite's default format: elapsed and remaining time
    assert "loss" not in text


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (lambda out: out, "loss=0.125"),
        (lambda out: out["loss"], "output=0.125"),
        (lambda out: torch.tensor(2.0), "output=2"),
    ],
)
def test_output_transform_is_shown(transform: Any, expected: str) -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    ProgressBar(persist=True, file=stream, disable=False).attach(trainer, output_transform=transform)
    trainer.run(range(8))
    assert expected in stream.getvalue()
    assert "accuracy" not in stream.getvalue()


def test_all_metrics_and_state_attributes() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    trainer.state.alpha = 0.5
    ProgressBar(persist=True, file=stream, disable=False, desc="Train").attach(
        trainer, metric_names="all", state_attributes=["alpha"]
    )
    trainer.run(range(4))
    line = final_lines(stream.getvalue())[-1]
    assert line.startswith("Train: [4/4]")
    assert "accuracy=0.54" in line and "per_class_0=0.25" in line and "alpha=0.5" in line


def test_without_persist_the_bar_is_cleared() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    ProgressBar(file=stream, disable=False).attach(trainer, metric_names=["accuracy"])
    trainer.run(range(4), max_epochs=2)
    assert "\n" not in stream.getvalue()  # tqdm's leave=False clears rather than ending lines


def test_closing_on_completed_draws_one_bar_for_the_run() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    ProgressBar(persist=True, file=stream, disable=False).attach(trainer, closing_event_name=Events.COMPLETED)
    trainer.run(range(5), max_epochs=3)
    lines = final_lines(stream.getvalue())
    assert len(lines) == 1
    assert lines[0].startswith("Epoch: [5/5] 100%")  # as Ignite: the count runs over each epoch


def test_filtered_update_event_and_terminate_close_the_bar() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=6), lambda e: e.terminate())
    ProgressBar(persist=True, file=stream, disable=False).attach(
        trainer, event_name=Events.ITERATION_COMPLETED(every=2)
    )
    trainer.run(range(10), max_epochs=2)
    lines = final_lines(stream.getvalue())
    assert len(lines) == 1
    assert "[6/10]" in lines[0]


def test_draws_to_a_file_or_pipe_unless_disable_is_none() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    ProgressBar(persist=True, file=stream).attach(trainer, metric_names="all")
    trainer.run(range(4))
    assert "[4/4]" in stream.getvalue()
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    bar = ProgressBar(file=stream, disable=None)  # tqdm's rule: a terminal only
    bar.attach(trainer, metric_names="all")
    trainer.run(range(4))
    assert stream.getvalue() == ""
    assert not bar.enabled
    assert not trainer.has_event_handler(bar._update)


def test_draws_on_a_terminal_by_default() -> None:
    stream = TerminalStream()
    trainer = trainer_with_metrics()
    ProgressBar(persist=True, file=stream, mininterval=0, disable=None).attach(trainer, metric_names=["accuracy"])
    trainer.run(range(4))
    assert "[4/4]" in stream.getvalue()


def test_only_rank_zero_draws_and_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_bar_module, "get_rank", lambda: 1)
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    bar = ProgressBar(file=stream, disable=False)
    bar.attach(trainer, metric_names="all")
    trainer.run(range(4))
    bar.log_message("hello")
    assert stream.getvalue() == ""


def test_log_message_goes_to_the_stream_without_breaking_the_bar() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    bar = ProgressBar(persist=True, file=stream, disable=False)
    bar.attach(trainer, metric_names=["accuracy"])
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda: bar.log_message("halfway there"))
    trainer.run(range(4))
    text = stream.getvalue()
    assert "halfway there\n" in text
    assert text.index("halfway there") < text.rindex("[4/4]")


def test_missing_metric_warns_once() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    ProgressBar(file=stream, disable=False, mininterval=0).attach(trainer, metric_names=["precision"])
    with pytest.warns(UserWarning, match="'precision' is not in engine.state.metrics") as record:
        trainer.run(range(4))
    assert len([w for w in record if "precision" in str(w.message)]) == 1


def test_resume_after_interrupt_continues_the_epoch_bar() -> None:
    stream = io.StringIO()
    trainer = trainer_with_metrics()
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=3), lambda e: e.interrupt())
    ProgressBar(persist=True, file=stream, disable=False).attach(trainer)
    trainer.run(range(6))
    trainer.run(range(6))
    lines = final_lines(stream.getvalue())
    assert "[3/6]" in lines[0] and "[6/6] 100%" in lines[-1]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metric_names": "accuracy"}, TypeError, "metric_names"),
        ({"metric_names": [1]}, TypeError, "metric_names"),
        ({"state_attributes": "all"}, ValueError, "state_attributes"),
        ({"output_transform": 3}, TypeError, "output_transform"),
        ({"event_name": Events.EPOCH_COMPLETED}, ValueError, "should be called before closing event"),
        ({"closing_event_name": Events.ITERATION_COMPLETED}, ValueError, "should be called before closing event"),
        ({"closing_event_name": Events.COMPLETED(every=2)}, ValueError, "should not be a filtered event"),
        ({"event_name": "unknown"}, ValueError, "not in allowed events"),
    ],
)
def test_attach_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ProgressBar(disable=False).attach(trainer_with_metrics(), **kwargs)


def test_constructor_and_engine_errors() -> None:
    with pytest.raises(TypeError, match="'total'"):
        ProgressBar(total=10)
    with pytest.raises(TypeError, match="Engine"):
        ProgressBar().attach("trainer")  # type: ignore[arg-type]


def test_bar_over_epochs_and_large_tensors_warn() -> None:
    stream = io.StringIO()
    trainer: Engine[Any] = Engine(lambda engine, batch: torch.zeros(2, 2))
    ProgressBar(persist=True, file=stream).attach(
        trainer, output_transform=lambda out: out, event_name=Events.EPOCH_STARTED, closing_event_name=Events.COMPLETED
    )
    with pytest.warns(UserWarning, match="shape"):
        trainer.run(range(2), max_epochs=4)
    assert final_lines(stream.getvalue())[-1].startswith("Epoch: [4/4] 100%")

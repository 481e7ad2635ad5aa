"""CSVLogger and JSONLinesLogger through real training runs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

import cadence.loggers.csv as csv_module
from cadence import Engine, Events
from cadence.loggers import CSVLogger, JSONLinesLogger
from tests.loggers._training import make_training


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_csv_has_one_row_per_logging_event(tmp_path: Path) -> None:
    trainer, _, optimizer, data = make_training()
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    path = tmp_path / "logs" / "train.csv"
    with CSVLogger(path) as logger:
        logger.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED(every=2), tag="train", output_transform=lambda loss: {"loss": loss}
        )
        logger.attach_opt_params_handler(trainer, Events.EPOCH_STARTED, optimizer)
        trainer.run(data, max_epochs=2)
    rows = read_rows(path)
    assert len(rows) == 6 + 2  # every second of 12 iterations, and each epoch start
    iteration_rows = [row for row in rows if row["event"] == "iteration_completed"]
    assert [int(row["step"]) for row in iteration_rows] == [2, 4, 6, 8, 10, 12]
    assert [float(row["train/loss"]) for row in iteration_rows] == pytest.approx(losses[1::2])
    assert all(row["lr/group_0"] == "" for row in iteration_rows)
    epoch_rows = [row for row in rows if row["event"] == "epoch_started"]
    assert [(row["step"], row["lr/group_0"], row["train/loss"]) for row in epoch_rows] == [
        ("1", "0.05", ""),
        ("2", "0.05", ""),
    ]


def test_new_columns_rewrite_the_header_and_keep_earlier_rows(tmp_path: Path) -> None:
    trainer: Engine[int] = Engine(lambda e, b: b)

    @trainer.on(Events.EPOCH_COMPLETED)
    def late_metric(engine: Engine[Any]) -> None:
        engine.state.metrics["accuracy"] = 0.5 + engine.state.epoch / 10

    path = tmp_path / "train.csv"
    logger = CSVLogger(path)
    logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="t", output_transform=lambda out: out)
    logger.attach_output_handler(trainer, Events.EPOCH_COMPLETED, tag="v", metric_names=["accuracy"])
    trainer.run([1, 2], max_epochs=2)
    logger.close()
    lines = path.read_text().splitlines()
    assert lines == [
        "event,step,t/output,v/accuracy",
        "iteration_completed,1,1.0,",
        "iteration_completed,2,2.0,",
        "epoch_completed,1,,0.6",
        "iteration_completed,3,1.0,",
        "iteration_completed,4,2.0,",
        "epoch_completed,2,,0.7",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]  # no temporary file left behind


def test_rows_are_on_disk_while_the_run_goes_on(tmp_path: Path) -> None:
    trainer, _, _, data = make_training()
    path = tmp_path / "train.csv"
    seen: list[int] = []
    logger = CSVLogger(path)
    logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train", output_transform=lambda x: x)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda: seen.append(len(read_rows(path))))
    trainer.run(data)
    logger.close()
    assert seen == [1, 2, 3, 4, 5, 6]


def test_append_continues_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    for append, data in ((False, [1, 2]), (True, [3, 4])):
        trainer: Engine[int] = Engine(lambda e, b: b)
        trainer.state.iteration = 0 if not append else 2
        with CSVLogger(path, append=append) as logger:
            logger.attach_output_handler(
                trainer, Events.ITERATION_COMPLETED, tag="t", output_transform=lambda o: o,
                global_step_transform=lambda engine, event: engine.state.output,
            )  # fmt: skip
            trainer.run(data)
    assert [row["step"] for row in read_rows(path)] == ["1", "2", "3", "4"]
    with CSVLogger(path) as logger:
        pass
    assert path.read_text() == ""


@pytest.mark.parametrize("logger_class", [CSVLogger, JSONLinesLogger])
def test_a_resumed_run_replaying_steps_leaves_each_step_once(tmp_path: Path, logger_class: type[Any]) -> None:
    path = tmp_path / "train.log"
    with logger_class(path) as logger:  # the killed run: logged up to step 5 and epoch 2, checkpointed at step 3
        for step in range(1, 6):
            logger.write_scalars({"loss": float(step)}, step, "iteration_completed")
        for epoch in (1, 2):
            logger.write_scalars({"accuracy": epoch / 10}, epoch, "epoch_completed")
    with logger_class(path, append=True) as logger:  # the resumed run replays steps 4, 5, ... and epoch 2
        for step in range(4, 8):
            logger.write_scalars({"loss": step + 0.5}, step, "iteration_completed")
        logger.write_scalars({"accuracy": 0.25}, 2, "epoch_completed")
    if logger_class is CSVLogger:
        values = [(r["event"], int(r["step"])) for r in read_rows(path)]
    else:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        values = [(r["event"], r["step"]) for r in records]
    iterations = [step for event, step in values if event == "iteration_completed"]
    epochs = [step for event, step in values if event == "epoch_completed"]
    assert iterations == [1, 2, 3, 4, 5, 6, 7] and epochs == [1, 2]


def test_a_resumed_csv_log_keeps_rows_it_cannot_read_and_other_events(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("event,step,a\r\nother,9,1\r\nit,x,2\r\nit,4,3\r\n")
    with CSVLogger(path, append=True) as logger:
        logger.write_scalars({"a": 5.0}, 4, "it")
    assert [(r["event"], r["step"], r["a"]) for r in read_rows(path)] == [
        ("other", "9", "1"), ("it", "x", "2"), ("it", "4", "5.0"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "kept", "steps"),
    [
        ("event,step,a\r\nit,1,1.0\r\nit,2,2", "event,step,a\r\nit,1,1.0\r\n", ["1", "3"]),  # crash mid-row
        ("event,st", "", ["3"]),  # crash mid-header: treated as an empty file
        ("event,step,a\r\n", "event,step,a\r\n", ["3"]),  # complete file: untouched
    ],
)
def test_csv_append_drops_a_partial_last_line(tmp_path: Path, text: str, kept: str, steps: list[str]) -> None:
    path = tmp_path / "train.csv"
    path.write_bytes(text.encode())
    with CSVLogger(path, append=True) as logger:
        logger.write_scalars({"a": 3.0}, 3, "it")
    rows = read_rows(path)
    assert rows[-1] == {"event": "it", "step": "3", "a": "3.0"}
    assert path.read_bytes().startswith(kept.encode())
    assert [row["step"] for row in rows] == steps


def test_json_lines_append_drops_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    first = '{"event": "it", "step": 1, "a": 1.0}\n'
    path.write_text(first + '{"event": "it", "st')
    with JSONLinesLogger(path, append=True) as logger:
        logger.write_scalars({"a": 3.0}, 3, "it")
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 3]
    path.write_text('{"ev')
    with JSONLinesLogger(path, append=True) as logger:
        logger.write_scalars({"a": 4.0}, 4, "it")
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [4]


def test_csv_header_rewrite_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    with CSVLogger(path) as logger:
        mode = path.stat().st_mode & 0o777
        logger.write_scalars({"a": 1.0}, 1, "it")
        assert path.stat().st_mode & 0o777 == mode
        path.chmod(0o640)
        logger.write_scalars({"b": 1.0}, 2, "it")  # a new column rewrites the file again
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["train.csv"]
    probe = tmp_path / "probe"
    probe.touch()
    fresh_mode = probe.stat().st_mode & 0o777
    with CSVLogger(path) as logger:
        path.unlink()  # the log vanished before the first row: the rewrite gives it a new file's mode
        logger.write_scalars({"a": 1.0}, 1, "it")
    assert path.stat().st_mode & 0o777 == fresh_mode


@pytest.mark.parametrize("logger_class", [CSVLogger, JSONLinesLogger])
def test_other_ranks_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logger_class: Any) -> None:
    monkeypatch.setattr(csv_module, "get_rank", lambda: 1)
    trainer: Engine[int] = Engine(lambda e, b: b)
    with logger_class(tmp_path / "sub" / "log") as logger:
        logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="t", output_transform=lambda o: o)
        trainer.run([1, 2])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("logger_class", [CSVLogger, JSONLinesLogger])
def test_file_logger_errors(tmp_path: Path, logger_class: Any) -> None:
    with pytest.raises(ValueError, match="is a folder"):
        logger_class(tmp_path)
    with pytest.raises(TypeError, match="file path"):
        logger_class(3)
    logger = logger_class(tmp_path / "log")
    with pytest.raises(ValueError, match="clash"):
        logger.write_scalars({"step": 1.0}, 1, "completed")
    logger.close()
    with pytest.raises(ValueError, match="closed"):
        logger.write_scalars({"loss": 1.0}, 1, "completed")


def test_json_lines_one_object_per_logging_event(tmp_path: Path) -> None:
    trainer, model, _, data = make_training()
    path = tmp_path / "train.jsonl"
    with JSONLinesLogger(path) as logger:
        logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="train", output_transform=lambda x: x)
        logger.attach_grad_norm_handler(trainer, Events.EPOCH_COMPLETED, model)
        trainer.run(data, max_epochs=2)
        logger.write_scalars({"bad": math.nan}, 99, "custom")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 12 + 2 + 1
    assert rows[0]["event"] == "iteration_completed" and rows[0]["step"] == 1 and "train/output" in rows[0]
    epoch_rows = [row for row in rows if row["event"] == "epoch_completed"]
    assert [row["step"] for row in epoch_rows] == [1, 2]
    assert set(epoch_rows[0]) == {"event", "step", *(f"grads_norm/{n}/{k}" for n in (0, 2) for k in ("weight", "bias"))}
    assert math.isnan(rows[-1]["bad"])


def test_one_row_per_step_merges_every_value_logged_at_a_step(tmp_path: Path) -> None:
    trainer, _, optimizer, data = make_training()  # 6 iterations per epoch
    evaluator: Engine[int] = Engine(lambda e, b: b)
    evaluator.add_event_handler(Events.COMPLETED, lambda e: e.state.metrics.update(accuracy=e.state.epoch / 4))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([1]))
    path = tmp_path / "train.csv"
    with CSVLogger(path, one_row_per_step=True) as logger:
        logger.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED(every=3), tag="train", output_transform=lambda loss: {"loss": loss}
        )
        logger.attach_opt_params_handler(trainer, Events.ITERATION_COMPLETED(every=2), optimizer)
        logger.attach_output_handler(
            evaluator, Events.COMPLETED, tag="val", metric_names="all",
            global_step_transform=lambda *_: trainer.state.iteration,
        )  # fmt: skip
        trainer.run(data, max_epochs=2)
    rows = read_rows(path)
    assert list(rows[0]) == ["step", "lr/group_0", "train/loss", "val/accuracy"]  # in order of appearance
    assert [row["step"] for row in rows] == ["2", "3", "4", "6", "8", "9", "10", "12"]
    filled = {row["step"]: tuple(bool(row[name]) for name in list(row)[1:]) for row in rows}
    assert filled["2"] == (True, False, False) and filled["3"] == (False, True, False)
    assert filled["6"] == filled["12"] == (True, True, True)  # three handlers, two engines: one row
    assert path.read_text().count("\n") == 9


def test_one_row_per_step_resumed_drops_every_row_from_its_first_step(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    with CSVLogger(path, one_row_per_step=True) as logger:  # the killed run, checkpointed at step 2
        for step in range(1, 5):
            logger.write_scalars({"loss": float(step)}, step, "iteration_completed")
            if step % 2 == 0:
                logger.write_scalars({"accuracy": step / 10}, step, "completed")
    with CSVLogger(path, one_row_per_step=True, append=True) as logger:
        for step in range(3, 6):
            logger.write_scalars({"loss": step + 0.5}, step, "iteration_completed")
            if step % 2 == 0:
                logger.write_scalars({"accuracy": step / 100}, step, "completed")
    assert [tuple(row.values()) for row in read_rows(path)] == [
        ("1", "1.0", ""), ("2", "2.0", "0.2"), ("3", "3.5", ""), ("4", "4.5", "0.04"), ("5", "5.5", ""),
    ]  # fmt: skip


def test_one_row_per_step_errors(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    with CSVLogger(path) as logger:
        logger.write_scalars({"loss": 1.0}, 1, "iteration_completed")
    with pytest.raises(ValueError, match="one_row_per_step=False"):
        CSVLogger(path, append=True, one_row_per_step=True)
    with pytest.raises(TypeError, match="one_row_per_step must be True or False"):
        CSVLogger(path, one_row_per_step="yes")  # type: ignore[arg-type]
    with CSVLogger(path, one_row_per_step=True) as logger, pytest.raises(ValueError, match="clash"):
        logger.write_scalars({"step": 1.0}, 1, "iteration_completed")

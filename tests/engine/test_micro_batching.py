"""Out-of-memory retry: a batch that does not fit runs as micro-batches whose gradients add up to the whole
batch's, the size that fits is remembered (and saved), and what cannot be retried fails with a clear error."""

from __future__ import annotations

import copy
import logging
from typing import Any, NamedTuple

import pytest
import torch
from torch import nn

from cadence import Engine, Events
from cadence.engine import create_supervised_trainer
from cadence.engine import micro_batching as micro_module
from cadence.engine.micro_batching import MicroBatches, MicroBatching, batch_size, concatenate, split_batch

STEPS = 6


class _BackwardLimit(torch.autograd.Function):
    """Identity forward; its backward pass runs out of memory for more than ``limit`` samples."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, limit: int) -> torch.Tensor:
        ctx.limit = limit
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        if grad.shape[0] > ctx.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory (backward of {grad.shape[0]} samples)")
        return grad, None


class FitsUpTo(nn.Module):
    """A small model that raises torch.OutOfMemoryError above ``limit`` samples, in the forward or backward pass."""

    def __init__(self, limit: float = float("inf"), where: str = "forward") -> None:
        super().__init__()
        torch.manual_seed(3)
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        self.limit, self.where = limit, where
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        if self.where == "forward" and x.shape[0] > self.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate for {x.shape[0]} samples")
        hidden = self.body[0](x)
        if self.where == "backward":
            limit = int(self.limit) if self.limit != float("inf") else 1 << 30
            hidden = _BackwardLimit.apply(hidden, limit)  # type: ignore[no-untyped-call]  # untyped in torch
        output: torch.Tensor = self.body[2](self.body[1](hidden))
        return output


def _data(sizes: list[int] | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    sizes = sizes or [16] * STEPS
    return [(torch.randn(n, 4, generator=generator), torch.randn(n, 1, generator=generator)) for n in sizes]


def _train(model: FitsUpTo, data: list[Any], **options: Any) -> Engine[Any]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = create_supervised_trainer(model, optimizer, nn.MSELoss(), **options)
    trainer.run(data)
    return trainer


def _assert_close(got: nn.Module, expected: nn.Module, exact: bool = False) -> None:
    for (name, a), b in zip(got.state_dict().items(), expected.state_dict().values(), strict=True):
        assert torch.equal(a, b) if exact else torch.allclose(a, b, rtol=1e-5, atol=1e-6), name


@pytest.mark.parametrize("where", ["forward", "backward"])
def test_a_batch_that_does_not_fit_trains_as_the_whole_batch_would(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    reference = FitsUpTo()
    _train(reference, _data())
    model = FitsUpTo(limit=5, where=where)
    with caplog.at_level(logging.WARNING, logger="cadence.engine.micro_batching"):
        trainer = _train(model, _data(), oom_retry=True)
    _assert_close(model, reference)
    assert trainer.state.metrics["micro_batch_size"] == 4  # 16, then 8, then 4 fits
    assert f"Out of memory in the {where} pass of a micro-batch of 16 samples at iteration 1" in caplog.text
    assert model.sizes[-4:] == [4, 4, 4, 4]  # the later batches start at the size that fits


def test_a_forward_failure_goes_on_with_the_samples_not_yet_done() -> None:
    class Shrinking(FitsUpTo):
        """Memory runs short after the second forward pass (another process took some)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.limit = 8 if len(self.sizes) < 2 else 4
            return super().forward(x)

    reference, model = FitsUpTo(), Shrinking()
    _train(reference, _data([16]))
    trainer = _train(model, _data([16]), oom_retry=True)
    assert model.sizes == [16, 8, 8, 4, 4]  # the first 8 samples are done once: only the rest is split again
    assert trainer.state.metrics["micro_batch_size"] == 4
    _assert_close(model, reference)


def test_without_a_failure_oom_retry_changes_nothing() -> None:
    reference, model = FitsUpTo(), FitsUpTo()
    _train(reference, _data())
    _train(model, _data(), oom_retry=True)
    _assert_close(model, reference, exact=True)


def test_gradient_accumulation_with_a_forward_failure_inside_a_window() -> None:
    reference = FitsUpTo()
    _train(reference, _data([4, 16, 4, 16]), gradient_accumulation_steps=2)
    model = FitsUpTo(limit=8)
    trainer = _train(model, _data([4, 16, 4, 16]), gradient_accumulation_steps=2, oom_retry=True)
    _assert_close(model, reference)
    assert trainer.state.metrics["micro_batch_size"] == 8


def test_a_backward_failure_inside_an_accumulation_window_cannot_be_retried() -> None:
    model = FitsUpTo(limit=8, where="backward")
    with pytest.raises(torch.OutOfMemoryError, match="inside a gradient accumulation window") as error:
        _train(model, _data([4, 16]), gradient_accumulation_steps=2, oom_retry=True)
    assert "backward of 16 samples" in str(error.value) and isinstance(error.value.__cause__, torch.OutOfMemoryError)


def test_a_backward_failure_at_a_windows_first_iteration_is_retried() -> None:
    reference = FitsUpTo()
    _train(reference, _data([16, 4, 16, 4]), gradient_accumulation_steps=2)
    model = FitsUpTo(limit=8, where="backward")
    _train(model, _data([16, 4, 16, 4]), gradient_accumulation_steps=2, oom_retry=True)
    _assert_close(model, reference)


def test_one_sample_that_does_not_fit_re_raises_with_a_message() -> None:
    model = FitsUpTo(limit=0)
    with pytest.raises(torch.OutOfMemoryError, match="micro-batch of one sample") as error:
        _train(model, _data([4]), oom_retry=True)
    assert "Tried to allocate for 1 samples" in str(error.value)
    assert model.sizes == [4, 2, 1]


def test_without_oom_retry_the_error_is_untouched() -> None:
    with pytest.raises(torch.OutOfMemoryError, match=r"^CUDA out of memory. Tried to allocate for 16 samples$"):
        _train(FitsUpTo(limit=4), _data())


def test_other_errors_are_not_retried() -> None:
    def broken(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("not memory")

    with pytest.raises(RuntimeError, match=r"^not memory$"):
        _train(FitsUpTo(), _data(), oom_retry=True, model_fn=broken)


def test_a_distributed_run_re_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(micro_module, "_distributed", lambda: True)
    with pytest.raises(torch.OutOfMemoryError, match="distributed run"):
        _train(FitsUpTo(limit=4), _data(), oom_retry=True)


def test_amp_with_a_scaler() -> None:
    reference = FitsUpTo()
    _train(reference, _data(), amp_mode="amp", scaler=True)
    model = FitsUpTo(limit=4)
    trainer = _train(model, _data(), amp_mode="amp", scaler=True, oom_retry=True)
    for a, b in zip(model.state_dict().values(), reference.state_dict().values(), strict=True):
        assert torch.allclose(a, b, rtol=0.05, atol=0.02)  # bfloat16 forward passes of other shapes round otherwise
    assert trainer.state.scaler.get_scale() == torch.amp.GradScaler("cpu").get_scale()  # no inf gradient: unmoved


def test_the_output_is_the_whole_batchs() -> None:
    seen: list[tuple[int, int, float]] = []

    def output(x: torch.Tensor, y: torch.Tensor, y_pred: torch.Tensor, loss: torch.Tensor) -> float:
        seen.append((x.shape[0], y_pred.shape[0], loss.item()))
        return loss.item()

    reference = FitsUpTo()
    _train(reference, _data([16]), output_transform=output)
    _train(FitsUpTo(limit=4), _data([16]), output_transform=output, oom_retry=True)
    (n, n_pred, loss), (m, m_pred, split_loss) = seen
    assert n == m == n_pred == m_pred == 16 and split_loss == pytest.approx(loss, rel=1e-6)


def test_the_size_that_fits_is_saved_and_a_resumed_run_splits_as_the_stopped_one() -> None:
    data = _data([16] * 8)
    reference = FitsUpTo(limit=5)
    _train(reference, data, oom_retry=True)

    model = FitsUpTo(limit=5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = create_supervised_trainer(model, optimizer, nn.MSELoss(), oom_retry=True)
    saved: dict[str, Any] = {}

    @trainer.on(Events.ITERATION_COMPLETED(once=3))
    def save_and_stop(engine: Engine[Any]) -> None:
        saved.update(copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict()}))
        saved["trainer"] = copy.deepcopy(engine.state_dict())
        engine.terminate()

    trainer.run(data)
    assert saved["trainer"]["metrics"] == {"micro_batch_size": 4}

    resumed = FitsUpTo(limit=5)
    resumed.load_state_dict(saved["model"])
    optimizer = torch.optim.SGD(resumed.parameters(), lr=0.1, momentum=0.9)
    optimizer.load_state_dict(saved["optimizer"])
    again = create_supervised_trainer(resumed, optimizer, nn.MSELoss(), oom_retry=True)
    again.load_state_dict(saved["trainer"])
    again.run(data)
    assert set(resumed.sizes) == {4}  # never the whole batch: no failure needed to find the size again
    _assert_close(resumed, reference, exact=True)


def test_a_custom_process_function() -> None:
    reference, model = FitsUpTo(), FitsUpTo(limit=3)
    for net in (reference, model):
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        micro = MicroBatching(name="fits")

        def forward(part: Any, net: nn.Module = net) -> tuple[torch.Tensor, Any]:
            prediction = net(part["x"])
            return nn.functional.mse_loss(prediction, part["y"]), {"prediction": prediction}

        def step(engine: Engine[Any], batch: Any, optimizer: Any = optimizer, micro: Any = micro) -> Any:
            optimizer.zero_grad()
            done = micro.accumulate(engine, batch, forward, zero_grad=optimizer.zero_grad)
            optimizer.step()
            return done.output["prediction"].shape[0]

        trainer: Engine[Any] = Engine(step)
        trainer.run([{"x": x, "y": y, "tag": "batch"} for x, y in _data()])
        assert trainer.state.output == 16
    _assert_close(model, reference)


class Pair(NamedTuple):
    x: torch.Tensor
    y: torch.Tensor


def test_split_batch_and_concatenate() -> None:
    batch = {"x": torch.arange(5), "pair": Pair(torch.arange(5), torch.arange(5) * 2), "scale": torch.tensor(2.0)}
    parts = split_batch(batch, 2)
    assert [part["x"].tolist() for part in parts] == [[0, 1], [2, 3], [4]]
    assert isinstance(parts[0]["pair"], Pair) and parts[2]["pair"].y.tolist() == [8]
    assert all(part["scale"] is batch["scale"] for part in parts)
    joined = concatenate(parts)
    assert joined["x"].tolist() == list(range(5)) and isinstance(joined["pair"], Pair)
    assert batch_size([None, (torch.zeros(3, 2),)]) == 3
    (whole,) = split_batch([torch.arange(3), "tag"], 5)
    assert whole[0].tolist() == [0, 1, 2] and whole[1] == "tag"
    assert concatenate([7]) == 7


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: batch_size(("a", 1)), TypeError, "holds no tensor"),
        (lambda: batch_size(torch.tensor(3.0)), TypeError, "holds no tensor"),
        (lambda: split_batch((torch.zeros(4), torch.zeros(3)), 2), ValueError, "does not have the batch's 4 samples"),
        (lambda: split_batch(torch.zeros(4), 0), ValueError, "size must be a positive integer"),
        (lambda: split_batch(torch.zeros(4), True), ValueError, "size must be a positive integer"),
        (lambda: MicroBatching(name=""), TypeError, "name must be"),
        (lambda: MicroBatching(split=3), TypeError, "split must be callable"),  # type: ignore[arg-type]
        (lambda: MicroBatching(size_of="len"), TypeError, "size_of must be callable"),  # type: ignore[arg-type]
    ],
)
def test_bad_input(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_micro_batches_loss() -> None:
    done = MicroBatches(weights=[0.75, 0.25], losses=[torch.tensor(1.0), torch.tensor(3.0)], outputs=[1, 2])
    assert done.loss.item() == 1.5 and done.output == 1
    only = torch.tensor(2.0, requires_grad=True)
    assert MicroBatches(weights=[1.0], losses=[only], outputs=[0]).loss is only  # untouched: no micro-batching

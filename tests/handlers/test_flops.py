from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from cadence.handlers.flops import PEAK_FLOPS, Precision, count_flops, gpu_model, peak_flops


def test_a_models_forward_and_backward_are_counted() -> None:
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    batch = torch.randn(8, 16)
    forward = 2 * 8 * (16 * 32 + 32 * 4)
    assert count_flops(model, batch) == forward
    # the backward: the weights' gradients of both layers, and the gradient of the second layer's input
    assert count_flops(model, batch, backward=True) == forward + 2 * 8 * (16 * 32 + 32 * 4) + 2 * 8 * 32 * 4


def test_a_step_function_is_counted_as_it_runs() -> None:
    model = nn.Linear(16, 4)
    batch, target = torch.randn(8, 16), torch.randn(8, 4)

    def step() -> None:
        nn.functional.mse_loss(model(batch), target).backward()

    assert count_flops(step) == 2 * (2 * 8 * 16 * 4)  # forward and the weight's gradient
    assert model.weight.grad is not None  # a step function's effects are its own


def test_counting_a_model_changes_nothing_training_depends_on() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.5), nn.Linear(6, 2))
    model(torch.randn(5, 4)).sum().backward()
    grads = [parameter.grad for parameter in model.parameters()]
    before = {name: value.clone() for name, value in model.state_dict().items()}
    batch = torch.randn(5, 4) * 100
    rng = torch.get_rng_state()
    count_flops(model, batch, backward=True)
    assert all(value is grad for value, grad in zip((p.grad for p in model.parameters()), grads, strict=True))
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())  # BN statistics too
    assert torch.equal(torch.get_rng_state(), rng)  # the dropout's draws were taken from a fork


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: count_flops(3), TypeError, "needs a callable"),
        (lambda: count_flops(nn.Linear(2, 2), torch.ones(1, 2), backward=1), TypeError, "backward should be"),
        (lambda: count_flops(lambda: None, backward=True), ValueError, "needs a model"),
        (lambda: count_flops(nn.Identity(), torch.ones(2), backward=True), ValueError, "requires grad"),
        (lambda: gpu_model(3), TypeError, "device name"),
        (lambda: peak_flops("cpu", "bf16"), TypeError, "Precision"),
    ],
)
def test_bad_arguments_are_refused(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA H100 NVL", "H100 NVL"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA H200 NVL", "H200 NVL"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA A100-PCIE-40GB", "A100"),
        ("NVIDIA A10G", "A10G"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA L40S", "L40S"),
        ("Tesla V100-SXM2-16GB", "V100 SXM2"),
        ("Tesla V100-PCIE-32GB", "V100 PCIe"),
        ("NVIDIA GeForce RTX 4090", "RTX 4090"),
        ("NVIDIA L40", None),
        ("NVIDIA A10", None),
        ("NVIDIA GeForce RTX 3090", None),
    ],
)
def test_device_names_map_to_the_table(name: str, model: str | None) -> None:
    assert gpu_model(name) == model


def test_the_table_is_dense_peaks_in_flops() -> None:
    for model, peaks in PEAK_FLOPS.items():
        assert Precision.FP16 in peaks and Precision.FP32 in peaks, model
        assert all(1e12 < value < 2e15 for value in peaks.values()), model  # dense: no GPU here reaches 2 PFLOP/s
        assert peaks[Precision.FP16] >= peaks.get(Precision.TF32, 0.0) >= 0.0, model
    assert Precision.BF16 not in PEAK_FLOPS["V100 SXM2"]  # no bf16 tensor cores: no MFU at bf16
    with pytest.raises(TypeError):
        PEAK_FLOPS["H100 SXM"][Precision.BF16] = 1.0  # type: ignore[index]  # read-only: no global mutable state


def test_peak_of_a_cuda_device_comes_from_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert peak_flops("cuda:0") == pytest.approx(989.4e12)
    assert peak_flops(precision=Precision.TF32) == pytest.approx(494.7e12)
    assert peak_flops("cpu") is None
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100-SXM2-16GB")
    assert peak_flops("cuda") is None and peak_flops("cuda", Precision.FP16) == pytest.approx(125e12)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert peak_flops("cuda") is None

import io
import pickle
import random
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cadence.data import capture_rng_states, derive_seed, manual_seed, restore_rng_states


def draw() -> tuple[float, float, float, list[float]]:
    return random.random(), float(np.random.rand()), float(np.random.randn()), torch.rand(3).tolist()


def through_torch_save(states: dict[str, Any]) -> Any:
    buffer = io.BytesIO()
    torch.save(states, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("transport", [lambda s: s, through_torch_save, lambda s: pickle.loads(pickle.dumps(s))])
def test_restore_repeats_the_random_numbers_of_every_library(transport: Any) -> None:
    manual_seed(5)
    np.random.randn()  # leaves a cached Gaussian in NumPy's state
    states = transport(capture_rng_states())
    first = draw()
    draw()
    restore_rng_states(states)
    assert draw() == first


def test_capture_is_plain_data() -> None:
    states = capture_rng_states()
    assert set(states) == {"python", "numpy", "torch", "cuda"}
    assert isinstance(states["numpy"]["keys"], list)
    assert isinstance(states["torch"], torch.Tensor)
    assert states["torch"].dtype == torch.uint8


def test_manual_seed_seeds_every_library() -> None:
    manual_seed(2**40 + 3)
    first = draw()
    manual_seed(2**40 + 3)
    assert draw() == first
    manual_seed(4)
    assert draw() != first


@pytest.mark.parametrize(
    ("seed", "error"), [(-1, ValueError), (2**64, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_manual_seed_rejects_bad_seeds(seed: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="seed must be"):
        manual_seed(seed)


@given(st.integers(0, 2**64 - 1), st.lists(st.integers(-(2**70), 2**70), max_size=4))
def test_derive_seed_is_a_deterministic_63_bit_seed(seed: int, keys: list[int]) -> None:
    derived = derive_seed(seed, *keys)
    assert 0 <= derived < 2**63
    assert derived == derive_seed(seed, *keys)


def test_derive_seed_separates_nearby_inputs_and_rejects_bad_keys() -> None:
    assert len({derive_seed(seed, epoch) for seed in range(20) for epoch in range(20)}) == 400
    with pytest.raises(TypeError, match="keys must be ints, got str"):
        derive_seed(0, "1")  # type: ignore[arg-type]


def corrupt(key: str, value: Any) -> dict[str, Any]:
    states = capture_rng_states()
    states[key] = value
    return states


@pytest.mark.parametrize(
    ("states", "error", "message"),
    [
        ([1, 2], TypeError, "must be the dict from capture_rng_states"),
        ({"python": [3, [0] * 625, None]}, ValueError, r"missing \['numpy', 'torch'\]"),
        ({**capture_rng_states(), "extra": 1}, ValueError, r"unexpected \['extra'\]"),
        (corrupt("python", [3, [0] * 10, None]), ValueError, "625 ints"),
        (corrupt("python", [3, [0] * 625, "x"]), ValueError, "gauss_next"),
        (corrupt("python", "abc"), TypeError, r"states\['python'\] must be a list"),
        (corrupt("numpy", {"kind": "MT19937"}), ValueError, r"states\['numpy'\] must be a dict with the keys"),
        (corrupt("torch", [1, 2]), TypeError, r"states\['torch'\] must be a 1-D uint8 tensor"),
        (corrupt("torch", torch.zeros(3)), TypeError, "got a torch.float32 tensor"),
        (corrupt("cuda", torch.zeros(3)), TypeError, r"states\['cuda'\] must be a list"),
    ],
)
def test_restore_rejects_bad_states_before_changing_anything(states: Any, error: type[Exception], message: str) -> None:
    before = capture_rng_states()
    with pytest.raises(error, match=message):
        restore_rng_states(states)
    after = capture_rng_states()
    assert after["python"] == before["python"] and torch.equal(after["torch"], before["torch"])


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("keys", [1] * 5, "must hold 624 ints, got 5"), ("kind", "PCG64", "must be 'MT19937'")],
)
def test_restore_rejects_a_bad_numpy_state(key: str, value: Any, message: str) -> None:
    states = capture_rng_states()
    states["numpy"][key] = value
    with pytest.raises(ValueError, match=message):
        restore_rng_states(states)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the warning on a machine without CUDA")
def test_restoring_cuda_states_without_cuda_warns() -> None:
    states = capture_rng_states()
    states["cuda"] = [torch.zeros(16, dtype=torch.uint8)]
    with pytest.warns(UserWarning, match="1 CUDA device states but this process sees 0"):
        restore_rng_states(states)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_states_round_trip() -> None:  # pragma: no cover - runs only on a GPU machine
    states = through_torch_save(capture_rng_states())
    first = torch.rand(4, device="cuda")
    restore_rng_states(states)
    assert torch.equal(torch.rand(4, device="cuda"), first)

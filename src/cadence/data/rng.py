"""Seeding and capturing the random number generators of Python, NumPy and torch (CPU and CUDA)."""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch

try:  # NumPy is optional for torch, so it is optional here too.
    import numpy as np
except ImportError:  # pragma: no cover - numpy is installed wherever the tests run
    np = None  # type: ignore[assignment]  # checked before every use

__all__ = ["capture_rng_states", "derive_seed", "manual_seed", "restore_rng_states"]

_MASK64 = (1 << 64) - 1
_MAX_SEED = 1 << 64
_MT_KEYS = 624
_PY_STATE_WORDS = 625
_REQUIRED_KEYS = ("python", "numpy", "torch")
_KNOWN_KEYS = frozenset((*_REQUIRED_KEYS, "cuda"))


def _splitmix64(value: int) -> int:
    # One SplitMix64 step: a cheap bijective mixer, so nearby inputs give unrelated outputs.
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _check_seed(seed: object, *, name: str = "seed") -> int:
    """Return ``seed`` if it is an int in ``[0, 2**64)``, else raise a clear error."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{name} must be an int, got {type(seed).__name__} ({seed!r})")
    if not 0 <= seed < _MAX_SEED:
        raise ValueError(f"{name} must be in [0, 2**64), got {seed}; pass a non-negative seed such as 0")
    return seed


def derive_seed(seed: int, *keys: int) -> int:
    """Mix ``seed`` and any number of int ``keys`` into a new seed in ``[0, 2**63)``.

    The result depends only on the arguments (no global state), so ``derive_seed(seed, epoch)``
    gives every epoch its own well-separated seed.

    Example:
        >>> derive_seed(0, 3) == derive_seed(0, 3)
        True
        >>> derive_seed(0, 3) != derive_seed(0, 4) != derive_seed(1, 3)
        True
    """
    mixed = _splitmix64(_check_seed(seed))
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(f"derive_seed keys must be ints, got {type(key).__name__} ({key!r})")
        mixed = _splitmix64(mixed ^ (key & _MASK64))
    return mixed >> 1


def manual_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG, torch on the CPU and every CUDA device.

    NumPy takes seeds below ``2**32`` only, so it gets ``seed % 2**32``.

    Example:
        >>> manual_seed(7); a = torch.rand(2)
        >>> manual_seed(7); torch.equal(a, torch.rand(2))
        True
    """
    _check_seed(seed)
    random.seed(seed)
    if np is not None:
        np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)  # also seeds all CUDA devices (lazily when CUDA is not initialised yet)


def _seed_cpu(seed: int) -> None:
    """Seed Python, NumPy and torch's CPU generator only: cheap enough to run per batch in a worker."""
    random.seed(seed)
    if np is not None:
        np.random.seed(seed % (1 << 32))
    torch.default_generator.manual_seed(seed)  # torch.manual_seed also queues CUDA seeding, ~100x slower


def capture_rng_states() -> dict[str, Any]:
    """Return the states of Python's ``random``, NumPy's global RNG, torch CPU and every CUDA device.

    The result is plain data (ints, floats, lists, ``uint8`` tensors), so it survives
    ``torch.save`` and ``torch.load(..., weights_only=True)``. Give it to :func:`restore_rng_states`.

    Example:
        >>> states = capture_rng_states()
        >>> first = random.random(), torch.rand(1)
        >>> restore_rng_states(states)
        >>> (random.random(), torch.rand(1)) == (first[0], first[1])
        True
    """
    version, words, gauss_next = random.getstate()
    states: dict[str, Any] = {"python": [version, list(words), gauss_next], "numpy": None}
    if np is not None:
        kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
        states["numpy"] = {
            "kind": str(kind),
            "keys": [int(key) for key in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        }
    states["torch"] = torch.get_rng_state()
    states["cuda"] = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return states


def restore_rng_states(states: Mapping[str, Any]) -> None:
    """Put back RNG states captured by :func:`capture_rng_states` (checked before anything changes).

    Example:
        >>> states = capture_rng_states()
        >>> a = torch.rand(3)
        >>> restore_rng_states(states)
        >>> torch.equal(a, torch.rand(3))
        True
    """
    python_state, numpy_state, torch_state, cuda_states = _validated(states)
    random.setstate(python_state)
    if numpy_state is not None and np is not None:
        np.random.set_state(numpy_state)
    torch.set_rng_state(torch_state)
    _restore_cuda(cuda_states)


def _validated(states: Mapping[str, Any]) -> tuple[Any, Any, torch.Tensor, list[torch.Tensor]]:
    if not isinstance(states, Mapping):
        raise TypeError(f"RNG states must be the dict from capture_rng_states(), got {type(states).__name__}")
    missing = [key for key in _REQUIRED_KEYS if key not in states]
    unknown = sorted(set(states) - _KNOWN_KEYS)
    if missing or unknown:
        raise ValueError(
            f"RNG states must have the keys {sorted(_KNOWN_KEYS)} from capture_rng_states(); "
            f"missing {missing}, unexpected {unknown}"
        )
    return (
        _python_state(states["python"]),
        _numpy_state(states["numpy"]),
        _byte_tensor(states["torch"], "torch"),
        [_byte_tensor(state, f"cuda[{i}]") for i, state in enumerate(_sequence(states.get("cuda", []), "cuda"))],
    )


def _sequence(value: object, key: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"RNG states[{key!r}] must be a list, got {type(value).__name__}")
    return value


def _python_state(value: object) -> tuple[int, tuple[int, ...], float | None]:
    state = _sequence(value, "python")
    words = _sequence(state[1], "python") if len(state) == 3 else ()
    valid = len(words) == _PY_STATE_WORDS and isinstance(state[0], int) and isinstance(state[2], (float, type(None)))
    if not valid or not all(isinstance(word, int) for word in words):
        raise ValueError(
            "RNG states['python'] must be [version, 625 ints, gauss_next] as written by capture_rng_states()"
        )
    return state[0], tuple(words), state[2]


def _numpy_state(value: object) -> tuple[str, Any, int, int, float] | None:
    if value is None:
        return None
    expected = {"kind", "keys", "pos", "has_gauss", "cached_gaussian"}
    if not isinstance(value, Mapping) or set(value) != expected:
        raise ValueError(f"RNG states['numpy'] must be a dict with the keys {sorted(expected)}, got {value!r:.80}")
    if np is None:
        warnings.warn("the RNG states hold a NumPy state but NumPy is not installed; it is not restored", stacklevel=3)
        return None
    if value["kind"] != "MT19937":
        raise ValueError(f"RNG states['numpy']['kind'] must be 'MT19937' (NumPy's legacy RNG), got {value['kind']!r}")
    keys = _sequence(value["keys"], "numpy.keys")
    if len(keys) != _MT_KEYS:
        raise ValueError(f"RNG states['numpy']['keys'] must hold {_MT_KEYS} ints, got {len(keys)}")
    return (
        str(value["kind"]),
        np.asarray(keys, dtype=np.uint32),
        int(value["pos"]),
        int(value["has_gauss"]),
        float(value["cached_gaussian"]),
    )


def _byte_tensor(value: object, key: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.dtype != torch.uint8 or value.dim() != 1:
        shown = f"a {value.dtype} tensor" if isinstance(value, torch.Tensor) else type(value).__name__
        raise TypeError(f"RNG states[{key!r}] must be a 1-D uint8 tensor from capture_rng_states(), got {shown}")
    return value.cpu()


def _restore_cuda(cuda_states: list[torch.Tensor]) -> None:
    if not cuda_states:
        return
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if available != len(cuda_states):
        warnings.warn(
            f"the RNG states hold {len(cuda_states)} CUDA device states but this process sees {available} "
            f"CUDA devices; only the first {min(available, len(cuda_states))} are restored, so random numbers "
            "on the GPU will differ from the original run",
            stacklevel=3,
        )
    for device, state in enumerate(cuda_states[:available]):
        torch.cuda.set_rng_state(state, device)

"""Reading checkpoint files and loading them into objects, all checks done before anything changes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import torch
from torch import nn

from cadence._version import __version__
from cadence.exceptions import CheckpointMismatchError
from cadence.handlers._fsdp_state import load_by_names, optimizer_owners
from cadence.handlers._integrity import verify_archive
from cadence.handlers._state_tree import check_objects, loadable_state, pair_leaves, unwrap

__all__ = [
    "FORMAT_KEY",
    "check_stream",
    "format_marker",
    "load_mapping",
    "read_checkpoint",
    "read_stream",
    "torch_load",
]


def read_checkpoint(path: str | Path, *, weights_only: bool = True, map_location: Any = "cpu") -> Mapping[str, Any]:
    """Read a checkpoint file written by :func:`torch.save`, checked against the checksums written with it; a
    missing, truncated, corrupted or foreign file raises an error that names it.

    ``weights_only=True`` (the default) refuses pickled code; pass ``False`` only for files you trust.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
        >>> torch.save({"w": torch.zeros(1)}, path)
        >>> read_checkpoint(path)
        {'w': tensor([0.])}
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint file {str(path)!r} does not exist (or is not a file).")
    with path.open("rb") as file:
        check_stream(file, str(path))
    return torch_load(path, str(path), weights_only, map_location)


def check_stream(file: IO[bytes], where: str) -> None:
    """Raise ``ValueError`` unless ``file`` looks like a ``torch.save`` file whose records match their checksums
    (:class:`~cadence.exceptions.CorruptCheckpointError` when they do not)."""
    head = file.read(len(_ZIP_MAGIC))
    if not head:
        raise ValueError(f"Checkpoint file {where!r} is empty: a save was cut short, or it is not a checkpoint.")
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTOCOL)):
        raise ValueError(
            f"{where!r} is not a checkpoint file (torch.save writes a zip archive; this one starts with "
            f"{head!r}): it is corrupted, or another kind of file."
        )
    verify_archive(file, where)


def read_stream(
    file: IO[bytes], where: str, *, weights_only: bool = True, map_location: Any = "cpu", verified: bool = False
) -> Mapping[str, Any]:
    """:func:`read_checkpoint` for an open, seekable file (``where`` names it in errors).

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> torch.save({"w": torch.zeros(1)}, buffer)
        >>> read_stream(buffer, "memory")
        {'w': tensor([0.])}
    """
    if not verified:
        file.seek(0)
        check_stream(file, where)
    file.seek(0)
    return torch_load(file, where, weights_only, map_location)


def torch_load(source: Path | IO[bytes], where: str, weights_only: bool, map_location: Any) -> Mapping[str, Any]:
    """``torch.load`` of a checkpoint already checked, its errors in words that name ``where``."""
    try:
        checkpoint = torch.load(source, map_location=map_location, weights_only=weights_only)
    except Exception as exc:
        if weights_only and "Unsupported global" in str(exc):
            raise ValueError(
                f"Checkpoint file {where!r} holds objects that torch.load(weights_only=True) refuses to unpickle. "
                "If you trust the file, pass weights_only=False."
            ) from exc
        raise ValueError(
            f"Cannot read checkpoint file {where!r}: it is truncated or corrupted "
            f"({type(exc).__name__}: {_first_sentence(exc)})."
        ) from exc
    if not isinstance(checkpoint, Mapping):
        raise ValueError(
            f"Checkpoint file {where!r} holds a {type(checkpoint).__name__}, not a mapping of state_dicts."
        )
    return checkpoint


# torch.save writes a zip archive; before PyTorch 1.6 (or with _use_new_zipfile_serialization=False), a pickle.
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL = b"\x80"


def _first_sentence(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].split(". ")[0] if text else "no details"


def _module_problems(name: str, module: nn.Module, state: Mapping[str, Any], strict: bool) -> list[str]:
    expected = module.state_dict()
    problems = []
    if strict:
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing:
            problems.append(f"{name!r} is missing keys {missing}")
        if unexpected:
            problems.append(f"{name!r} has unexpected keys {unexpected}")
    for key in sorted(set(expected) & set(state)):
        want, got = expected[key], state[key]
        if isinstance(want, torch.Tensor) and isinstance(got, torch.Tensor) and want.shape != got.shape:
            problems.append(f"{name!r}[{key!r}] has shape {tuple(got.shape)}, the model needs {tuple(want.shape)}")
    return problems


# Per-parameter states that torch's optimizers keep in the shape of their parameter (Adafactor's factored
# states, LBFGS's history and custom optimizers' own states may have other shapes and are not checked).
_PARAMETER_SHAPED = frozenset(
    {"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "exp_inf", "square_avg", "grad_avg"}
    | {"acc_delta", "sum", "ax", "prev", "step_size"}
)


def _optimizer_problems(name: str, optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> list[str]:
    groups = state.get("param_groups")
    if not isinstance(groups, list) or not isinstance(state.get("state"), Mapping):
        return [f"{name!r} is not an optimizer state_dict (needs 'state' and 'param_groups')"]
    want = [len(group["params"]) for group in optimizer.param_groups]
    got = [len(group.get("params", ())) for group in groups]
    if want != got:
        return [f"{name!r} has parameter groups of sizes {got}, the optimizer has {want}"]
    problems = []
    for group_index, (group, saved_group) in enumerate(zip(optimizer.param_groups, groups, strict=True)):
        for index, (param, key) in enumerate(zip(group["params"], saved_group["params"], strict=True)):
            saved = state["state"].get(key)
            if not isinstance(saved, Mapping):
                continue
            for entry in sorted(_PARAMETER_SHAPED & set(saved)):
                value = saved[entry]
                if isinstance(value, torch.Tensor) and value.shape != param.shape:
                    problems.append(
                        f"{name!r} parameter group {group_index}, parameter {index}: the saved {entry!r} has shape "
                        f"{tuple(value.shape)}, the optimizer's parameter has shape {tuple(param.shape)} "
                        "(a state for another model)"
                    )
                    break
    return problems


def _problems(pairs: list[tuple[str, Any, Any]], strict: bool) -> list[str]:
    problems: list[str] = []
    for name, obj, state in pairs:
        target = unwrap(obj)
        if isinstance(target, nn.Module | torch.optim.Optimizer) and not isinstance(state, Mapping):
            problems.append(f"{name!r} is a {type(state).__name__}, not a state_dict mapping")
        elif isinstance(target, nn.Module):
            problems.extend(_module_problems(name, target, state, strict))
        elif isinstance(target, torch.optim.Optimizer):
            problems.extend(_optimizer_problems(name, target, state))
    return problems


#: Layout of the multi-object checkpoints that Checkpoint writes; bump it when that layout changes.
CHECKPOINT_LAYOUT = 1
#: The entry of a multi-object checkpoint that records who wrote it.
FORMAT_KEY = "__cadence__"


def format_marker() -> dict[str, Any]:
    """The ``FORMAT_KEY`` entry written into multi-object checkpoints."""
    return {"version": __version__, "layout": CHECKPOINT_LAYOUT}


def _check_layout(checkpoint: Mapping[str, Any], source: str) -> None:
    marker = checkpoint.get(FORMAT_KEY)
    if marker is None:  # a file written by another tool, or a single object's bare state_dict
        return
    layout = marker.get("layout") if isinstance(marker, Mapping) else None
    if layout != CHECKPOINT_LAYOUT:
        version = marker.get("version", "an unknown version") if isinstance(marker, Mapping) else "an unknown version"
        raise ValueError(
            f"Checkpoint{source} was written by cadence {version} with state layout {layout!r}; this is cadence "
            f"{__version__}, which reads layout {CHECKPOINT_LAYOUT}. Resume it with cadence {version}, or start afresh."
        )


def _states_for(to_load: Mapping[str, Any], checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    if len(to_load) == 1:
        ((name, _),) = to_load.items()
        if name not in checkpoint:  # a single object saved as its bare state_dict
            return {name: checkpoint}
    return checkpoint


def load_mapping(
    to_load: Mapping[str, Any],
    checkpoint: Mapping[str, Any],
    *,
    source: str = "",
    strict: bool = True,
    **module_kwargs: Any,
) -> None:
    """Load each object of ``to_load`` from the same-named entry of the mapping ``checkpoint`` (``source`` names
    where it was read, in errors); see :meth:`Checkpoint.load_objects <cadence.handlers.Checkpoint.load_objects>`.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> load_mapping({"model": model}, {"model": {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}})
        >>> model.weight.tolist()
        [[1.0, 1.0]]
    """
    check_objects(to_load, "load_state_dict")
    _check_layout(checkpoint, source)
    paired = pair_leaves(to_load, _states_for(to_load, checkpoint), "load_state_dict")
    pairs = [(name, obj, loadable_state(unwrap(obj), state)) for name, obj, state in paired]
    problems = _problems(pairs, strict)
    if problems:
        raise CheckpointMismatchError(
            f"Cannot load checkpoint{source}, nothing was changed: " + "; ".join(problems) + "."
        )
    owners = optimizer_owners(to_load, "load_state_dict")
    _load_all(pairs, {"strict": strict, **module_kwargs}, owners)


_COMBINED: dict[type[Exception], type[Exception] | None] = {}


def _mismatch_of_its_type(exc: Exception, message: str) -> Exception:
    """The error for an object that refused its state: a :class:`CheckpointMismatchError` that is also of the
    type the object raised, so that a caller catching either (as with Ignite, which lets it through) gets it.
    A type that cannot be combined (another instance layout, a constructor that needs more) comes as it was."""
    kind = type(exc)
    if isinstance(exc, CheckpointMismatchError):
        return exc
    if kind not in _COMBINED:
        try:
            combined: type[Exception] | None = type(kind.__name__, (CheckpointMismatchError, kind), {})
            assert combined is not None
            combined(message)
        except TypeError:
            combined = None
        _COMBINED[kind] = combined
    combined = _COMBINED[kind]
    if combined is None:
        return exc
    return combined(message)


def _load_all(pairs: list[tuple[str, Any, Any]], module_kwargs: dict[str, Any], owners: dict[int, nn.Module]) -> None:
    # Objects that could not be fully checked load first, each with a snapshot to roll back to; then those
    # without state_dict() (as in Ignite, only load_state_dict is needed: no snapshot can be taken of them);
    # the checked models and optimizers come last, when nothing can fail any more.
    checked = (nn.Module, torch.optim.Optimizer)

    def rank(pair: tuple[str, Any, Any]) -> int:
        target = unwrap(pair[1])
        return 2 if isinstance(target, checked) else 0 if callable(getattr(target, "state_dict", None)) else 1

    done: list[tuple[Any, Any]] = []
    for name, obj, state in sorted(pairs, key=rank):
        target = unwrap(obj)
        snapshot = copy.deepcopy(target.state_dict()) if rank((name, obj, state)) == 0 else None
        try:
            if load_by_names(target, state, owners.get(id(target)), bool(module_kwargs.get("strict", True))):
                pass  # a sharded model, or an optimizer state keyed by parameter names
            elif isinstance(target, nn.Module):
                target.load_state_dict(state, **module_kwargs)
            else:
                target.load_state_dict(state)
        except Exception as exc:
            for restored, old_state in reversed(done):
                restored.load_state_dict(old_state)
            message = f"Cannot load {name!r} from the checkpoint ({exc}); nothing was changed."
            error = _mismatch_of_its_type(exc, message)
            if error is exc:
                raise
            raise error from exc
        if snapshot is not None:
            done.append((target, snapshot))

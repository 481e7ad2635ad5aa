"""Small helpers shared by training scripts: moving nested batches, one-hot encoding, loggers, seeding.

This is also Ignite's ``ignite.utils`` import path: the same names behave the same way.

Example:
    >>> import torch
    >>> from cadence.utils import convert_tensor, to_onehot
    >>> convert_tensor({"x": torch.tensor([1.0])}, device="cpu")
    {'x': tensor([1.])}
    >>> to_onehot(torch.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]], dtype=torch.uint8)
"""

from __future__ import annotations

import functools
import hashlib
import logging
import numbers
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import torch
import torch.distributed as dist

from cadence.data.rng import manual_seed

__all__ = [
    "convert_tensor",
    "apply_to_tensor",
    "apply_to_type",
    "_to_str_list",
    "to_onehot",
    "setup_logger",
    "manual_seed",
    "hash_checkpoint",
]

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULT_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"
_SHOWN_VALUES = 10


def apply_to_type(x: Any, input_type: type | tuple[type, ...], func: Callable[[Any], Any]) -> Any:
    """Apply ``func`` to every object of ``input_type`` found in ``x``, keeping the containers' types.

    Mappings, named tuples and other sequences are rebuilt with the same type; strings and bytes pass
    through unchanged. Anything else raises a ``TypeError``.

    Example:
        >>> apply_to_type({"a": [1, 2], "b": "text"}, int, lambda value: value * 10)
        {'a': [10, 20], 'b': 'text'}
    """
    if isinstance(x, input_type):
        return func(x)
    if isinstance(x, str | bytes):
        return x
    if isinstance(x, Mapping):
        return type(x)({key: apply_to_type(value, input_type, func) for key, value in x.items()})  # type: ignore[call-arg]  # mappings built from a dict
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # a named tuple takes its fields positionally
        return type(x)(*(apply_to_type(value, input_type, func) for value in x))
    if isinstance(x, Sequence):
        return type(x)([apply_to_type(value, input_type, func) for value in x])  # type: ignore[call-arg]  # sequences built from a list
    raise TypeError(f"x must contain {input_type}, dicts or lists; found {type(x)}")


def apply_to_tensor(x: Any, func: Callable[[torch.Tensor], Any]) -> Any:
    """Apply ``func`` to every tensor in ``x`` (a tensor, or mappings and sequences of them).

    Example:
        >>> apply_to_tensor([torch.tensor(1.0), (torch.tensor(2.0),)], lambda tensor: tensor * 2)
        [tensor(2.), (tensor(4.),)]
    """
    return apply_to_type(x, torch.Tensor, func)


def convert_tensor(
    x: Any,
    device: str | torch.device | None = None,
    non_blocking: bool = False,
) -> Any:
    """Move every tensor in ``x`` (a tensor, or mappings and sequences of them) to ``device``.

    With ``device=None`` the tensors are left where they are. ``non_blocking`` is passed on to
    ``Tensor.to`` (asynchronous copies from pinned memory).

    Example:
        >>> convert_tensor((torch.tensor([1]), "label"), device="cpu")
        (tensor([1]), 'label')
    """

    def move(tensor: torch.Tensor) -> torch.Tensor:
        return tensor if device is None else tensor.to(device=device, non_blocking=non_blocking)

    return apply_to_tensor(x, move)


def to_onehot(indices: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Turn indices of shape ``(N, ...)`` into ``uint8`` one-hot indicators of shape ``(N, num_classes, ...)``.

    The result is on the same device as ``indices``. The function can be compiled with ``torch.jit.script``.

    Example:
        >>> to_onehot(torch.tensor([1, 0]), num_classes=2)
        tensor([[0, 1],
                [1, 0]], dtype=torch.uint8)
    """
    shape = list(indices.shape)
    shape.insert(1, num_classes)
    onehot = torch.zeros(shape, dtype=torch.uint8, device=indices.device)
    return onehot.scatter_(1, indices.unsqueeze(1), 1)


def _format_tensor(tensor: torch.Tensor) -> str:
    if tensor.dim() == 0:
        return f"{tensor.item():.4f}"
    if tensor.dim() > 1:
        return f"Shape{list(tensor.shape)}"
    shown = ", ".join(f"{value:.4f}" for value in tensor[:_SHOWN_VALUES].tolist())
    return f"[{shown}, ...]" if tensor.numel() > _SHOWN_VALUES else f"[{shown}]"


def _format_leaf(value: Any) -> str | None:
    """One number or tensor as text; ``None`` for anything that is not a leaf value."""
    if isinstance(value, numbers.Number):
        return f"{value:.4f}"
    if isinstance(value, torch.Tensor):
        return _format_tensor(value)
    return None


def _to_str_list(data: Any) -> list[str]:
    """Flatten numbers, tensors and nested dicts/lists/tuples into readable lines, numbers to four decimals.

    A dict gives one line per key (``"key: value"``); a list or tuple gives one line joining its values;
    a 1-D tensor shows at most ten values, a tensor of more dims its shape; ``None`` and empty
    containers under a key give ``"key: "``.

    Example:
        >>> _to_str_list({"loss": 0.25, "scores": [1, torch.tensor(0.5)], "image": torch.zeros(2, 2)})
        ['loss: 0.2500', 'scores: 1.0000, 0.5000', 'image: Shape[2, 2]']
    """
    if isinstance(data, numbers.Number):
        return [f"{data:.4f}"]
    lines: list[str] = []

    def visit(item: Any, prefix: str) -> None:
        if isinstance(item, dict):
            for key, value in item.items():
                leaf = _format_leaf(value)
                if leaf is not None:
                    lines.append(f"{key}: {leaf}")
                else:
                    visit(value, f"{key}: ")
        elif isinstance(item, list | tuple):
            # Nested containers inside a sequence add their own lines; only leaves join this one.
            values = []
            for value in item:
                leaf = _format_leaf(value)
                if leaf is None:
                    visit(value, "")
                else:
                    values.append(leaf)
            if values or (prefix and not item):
                lines.append(prefix + ", ".join(values))
        elif item is None and prefix:
            lines.append(prefix)

    visit(data, "")
    return lines


def setup_logger(
    name: str | None = "ignite",
    level: int = logging.INFO,
    stream: TextIO | None = None,
    format: str = _DEFAULT_FORMAT,
    filepath: str | Path | None = None,
    distributed_rank: int | None = None,
    reset: bool = False,
    encoding: str | None = "utf-8",
) -> logging.Logger:
    """Configure the logger ``name``: its level, format, a stream handler and optionally a log file.

    An existing logger keeps its configuration unless ``reset=True``. On ranks other than 0
    (``distributed_rank``, by default this process's rank) the logger gets a ``NullHandler`` only, so
    that a message is printed once per job. The logger does not propagate to its parents.

    Args:
        name: the logger's name (``None``: the root logger).
        level: the logging level, e.g. ``logging.INFO``.
        stream: where to print (default ``sys.stderr``).
        format: the ``logging.Formatter`` format.
        filepath: also write to this file.
        distributed_rank: this process's rank (default: :func:`cadence.distributed.get_rank`).
        reset: drop the logger's handlers and configure it anew.
        encoding: the encoding of the log file.

    Example:
        >>> import sys
        >>> logger = setup_logger("cadence.doc", stream=sys.stdout, format="%(name)s: %(message)s", reset=True)
        >>> logger.info("hello")
        cadence.doc: hello
    """
    existed = name is None or name in logging.root.manager.loggerDict
    logger = logging.getLogger(name)
    if distributed_rank is None:
        distributed_rank = _process_rank()
    if distributed_rank > 0 or reset:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
    if distributed_rank > 0:
        logger.addHandler(logging.NullHandler())
    if existed and not reset:
        return logger
    if distributed_rank == 0:
        logger.setLevel(level)
        formatter = logging.Formatter(format)
        handlers: list[logging.Handler] = [logging.StreamHandler(stream)]
        if filepath is not None:
            handlers.append(logging.FileHandler(filepath, encoding=encoding))
        for handler in handlers:
            handler.setLevel(level)
            handler.setFormatter(formatter)
            logger.addHandler(handler)
    if name is not None:
        logger.propagate = False
    return logger


def _process_rank() -> int:
    # torch.distributed's own query, not cadence.distributed.get_rank: utils sits below cadence.distributed.
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def deprecated(
    deprecated_in: str, removed_in: str = "", reasons: tuple[str, ...] = (), raise_exception: bool = False
) -> Callable[[F], F]:
    """Mark a function as deprecated: calling it warns (or raises with ``raise_exception=True``).

    The wrapped function's docstring says since which version it is deprecated, and why.

    Example:
        >>> @deprecated("0.1", "0.3")
        ... def old():
        ...     return 1
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     old(), caught[0].category.__name__
        (1, 'DeprecationWarning')
    """
    removal = f" and will be removed in version {removed_in}" if removed_in else ""
    message = (
        f"This function has been deprecated since version {deprecated_in}{removal}."
        "\n Please refer to the documentation for more details."
    )
    note = f".. deprecated:: {deprecated_in}"
    if reasons:
        note += "\n\n\t" + "".join(f"\n\t- {reason}" for reason in reasons)

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if raise_exception:
                raise DeprecationWarning(message)
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            return func(*args, **kwargs)

        wrapper.__doc__ = f"**Deprecated function**.\n\n    {func.__doc__ or ''}{note}"
        return wrapper  # type: ignore[return-value]  # same call signature as func

    return decorator


def hash_checkpoint(checkpoint_path: str | Path, output_dir: str | Path) -> tuple[Path, str]:
    """Move a checkpoint to ``output_dir/<stem>-<first 8 hex digits of its SHA-256>.pt``.

    That name is what ``torch.hub.load_state_dict_from_url(..., check_hash=True)`` checks. The
    folder is created when missing. Returns the new path and the full SHA-256 hex digest.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> torch.save({"w": torch.zeros(1)}, folder / "model.pt")
        >>> path, digest = hash_checkpoint(folder / "model.pt", folder / "hashed")
        >>> path.name == f"model-{digest[:8]}.pt", path.exists()
        (True, True)
    """
    source = Path(checkpoint_path)
    if not source.exists():
        raise FileNotFoundError(f"{source.name} does not exist in {source.parent}.")
    target_dir = Path(output_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with source.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    sha = digest.hexdigest()
    target = target_dir / f"{source.stem}-{sha[:8]}.pt"
    shutil.move(str(source), target)
    return target, sha

"""cadence's exceptions (also Ignite's ``ignite.exceptions`` import path)."""

__all__ = ["CheckpointMismatchError", "CorruptCheckpointError", "NotComputableError"]


class CheckpointMismatchError(ValueError, RuntimeError):
    """A checkpoint does not fit the objects to load (missing entries, other keys or shapes); nothing was changed.

    It is a ``ValueError`` and, as :meth:`torch.nn.Module.load_state_dict` raises for a mismatch, a ``RuntimeError``.

    Example:
        >>> import torch
        >>> from cadence.handlers import Checkpoint
        >>> Checkpoint.load_objects({"model": torch.nn.Linear(2, 1)}, {"model": {"weight": torch.ones(3, 3)}})
        Traceback (most recent call last):
        ...
        cadence.exceptions.CheckpointMismatchError: Cannot load checkpoint, nothing was changed: ...
    """


class CorruptCheckpointError(ValueError):
    """A checkpoint's content no longer matches the checksum recorded when it was written (a bit flip on disk, a
    bad copy, a file changed by hand): it is not loaded. :meth:`Checkpoint.resume
    <cadence.handlers.Checkpoint.resume>` skips such a checkpoint with a warning and uses the one before it.

    Example:
        >>> issubclass(CorruptCheckpointError, ValueError)
        True
    """


class NotComputableError(RuntimeError):
    """Raised by ``compute()`` when a metric has not seen the data it needs (e.g. before any update).

    Example:
        >>> from cadence.metrics import Accuracy
        >>> try:
        ...     Accuracy().compute()
        ... except NotComputableError as error:
        ...     print("not yet")
        not yet
    """

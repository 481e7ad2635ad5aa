"""What the engine's log records show: per run and per epoch, never per iteration."""

from __future__ import annotations

__all__ = ["Elapsed"]


class Elapsed:
    """Seconds shown as ``HH:MM:SS.mmm`` (Ignite's format), formatted only if a log record is emitted.

    Example:
        >>> str(Elapsed(3725.5))
        '01:02:05.500'
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds or 0.0

    def __str__(self) -> str:
        minutes, seconds = divmod(self.seconds, 60)
        hours, minutes = divmod(int(minutes), 60)
        return f"{hours:02}:{minutes:02}:{seconds:06.3f}"

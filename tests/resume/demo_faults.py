"""Run the demo (``cadence.examples.digits``) with a fault: ``--die-in-save N`` SIGKILLs the process halfway
through writing its N-th checkpoint file. The other arguments go to the demo."""

from __future__ import annotations

import io
import os
import signal
import sys
from typing import Any

import torch

from cadence.examples import digits


def die_in_save(n: int) -> None:
    real_save = torch.save
    calls = 0

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls < n or isinstance(f, str | os.PathLike):
            real_save(obj, f, *args, **kwargs)
            return
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = save  # type: ignore[assignment]


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["--die-in-save"]:
        die_in_save(int(argv[1]))
        argv = argv[2:]
    digits.main(argv)

"""Test-session set-up shared by every test folder.

The multi-process and subprocess tests are about gloo on the CPU, the only hardware CI has. On a machine with
a GPU, the processes they start would see CUDA and put models there (as Ignite's device rules say), so the
CPU-only data of those tests would no longer fit. This session keeps its own view of CUDA (initialised here,
before the variable changes) and hides CUDA from the processes it starts; the tests that are about CUDA
(``tests/distributed/test_cuda.py``) give it back to theirs with the ``cuda_children`` fixture.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

CUDA_IN_THIS_SESSION = torch.cuda.is_available()  # initialises CUDA here before children lose it
_ORIGINAL = os.environ.get("CUDA_VISIBLE_DEVICES")
if CUDA_IN_THIS_SESSION:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""


@pytest.fixture
def cuda_children(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let the processes a test starts see the GPUs this session sees."""
    if _ORIGINAL is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", _ORIGINAL)
    yield

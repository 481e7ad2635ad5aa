"""The watchdog's traffic through the process group's store, on a thread of its own.

Each rank publishes ``(pid, start time, progress, waiting, host)`` and then bumps its heartbeat counter; it
reads the counters of its two neighbours on a ring of the ranks and of rank 0 (O(ranks) store reads per
interval, not O(ranks²)) and, when a counter moved, that rank's facts. The store calls run here, not on the
watchdog's judging thread: when the store's host is frozen (rank 0's worker hosts it unless torchrun's agent
does), a call never returns, and the judge must still be able to say so.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadence.distributed import hostname
from cadence.distributed._elastic_store import uses_agent_store

__all__ = ["Heartbeats"]


@dataclass
class _Peer:
    beat: int
    changed_at: float  # when this thread first read the current beat
    facts: list[str]  # [pid, start time, progress, waiting, host]


class Heartbeats:
    """Publish this rank's heartbeat and facts, and follow its watched peers', through ``store``."""

    def __init__(self, store: Any, rank: int, world_size: int) -> None:
        self.rank = rank
        self.watched = sorted({(rank + 1) % world_size, (rank - 1) % world_size, 0} - {rank})
        self.store_host = _store_host(store)
        self.answered_at = time.monotonic()  # when the store last answered a whole round
        self.peers: dict[int, _Peer] = {}
        self._store = store
        self._news = (0, False)
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="cadence-watchdog-heartbeats", daemon=True).start()

    def publish(self, progress: int, waiting: bool) -> None:
        """Send a heartbeat with these facts (at once, unless the previous round is still waiting for the store)."""
        self._news = (progress, waiting)
        self._wake.set()

    def silent(self, silence: float) -> list[int]:
        """The watched ranks whose heartbeat stayed the same through ``silence`` seconds of answered rounds."""
        answered = self.answered_at
        return [rank for rank, peer in list(self.peers.items()) if answered - peer.changed_at > silence]

    def hung(self) -> list[int]:
        """The watched ranks that beat but say their loop is not waiting in a collective."""
        return [rank for rank, peer in list(self.peers.items()) if peer.facts[3] == "0"]

    def describe(self, rank: int, what: str) -> str:
        peer = self.peers.get(rank)
        if peer is None:
            return f"rank {rank} (never seen): {what}"
        pid, _, progress, _, host = peer.facts
        return f"rank {rank} (host {host}, pid {pid}): {what} (its last heartbeat: {progress} iterations)"

    def kill_if_local(self, rank: int) -> bool:
        """SIGKILL ``rank``'s process when it runs on this host (the same pid *and* start time); whether it did."""
        peer = self.peers.get(rank)
        if peer is None:
            return False
        pid, started, _, _, host = peer.facts
        if host != hostname() or not started or _start_time(int(pid)) != started:
            return False
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:  # gone meanwhile, or not ours
            return False
        return True

    def _run(self) -> None:
        store, rank = self._store, self.rank
        own = f"{os.getpid()}:{_start_time(os.getpid())}"
        delay = 0.05
        while True:
            # Until every watched rank has been seen once, extra rounds after 50 ms, 100 ms, ... up to 1 s, not
            # only at each publish (every 0.2-1 s): a rank that freezes right after its first beat (its store with
            # it, when it hosts it) is then still known by pid and host, so it can be named and killed. The delay
            # grows so that the ranks of a large job starting at different times do not flood the store.
            if len(self.peers) == len(self.watched):
                self._wake.wait()
            elif not self._wake.wait(delay):
                delay = min(2 * delay, 1.0)
            self._wake.clear()
            progress, waiting = self._news
            # The facts first, then the beat: a peer that sees a beat can read them. A beat is a counter (``add``),
            # which reads as 0 before a rank's first beat without waiting for the key to exist.
            store.set(_key(rank, "info"), f"{own}:{progress}:{int(waiting)}:{hostname()}")
            store.add(_key(rank, "beat"), 1)
            now = time.monotonic()
            for other in self.watched:
                beat = int(store.add(_key(other, "beat"), 0))
                known = self.peers.get(other)
                if beat and (known is None or known.beat != beat):
                    facts = bytes(store.get(_key(other, "info"))).decode().split(":", 4)
                    self.peers[other] = _Peer(beat, now, facts)
            self.answered_at = time.monotonic()


def _key(rank: int, what: str) -> str:
    return f"cadence/watchdog/{rank}/{what}"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux; "" elsewhere): with the pid, its identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return ""
    return stat.rsplit(b")", 1)[1].split()[19].decode()


def _store_host(store: Any) -> int | None:
    """The rank whose process hosts ``store``'s server (rank 0 for a ``TCPStore`` that torchrun's agent does
    not host), or ``None``."""
    from torch.distributed import PrefixStore, TCPStore  # type: ignore[attr-defined]

    while isinstance(store, PrefixStore):
        store = store.underlying_store
    return 0 if isinstance(store, TCPStore) and not uses_agent_store() else None

"""Goodput under faults: the digits demo as an elastic torchrun job, with a fault injected in every interval.

The demo (``cadence.examples.digits``) runs as an elastic job of two torchrun agents ("nodes", one gloo
worker each, on 127.0.0.1) with a c10d rendezvous on a TCPStore of its own (the recipe of
docs/guides/distributed.md: ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1``, the agents as the store's clients) and
``--resume``. In each ``--fault-every`` interval one fault is injected at a random moment, the kinds in turn:

- ``kill``: SIGKILL a worker; the agents restart the workers;
- ``term``: SIGTERM a worker; ``Preemption`` saves the current iteration, the workers exit, the agents restart;
- ``stop``: SIGSTOP a worker (any rank: with this recipe the workers' store lives in rank 0, and a stopped
  rank 0 is named by its store's silence); its peer's ``Watchdog`` notices (``--watchdog-floor``), SIGKILLs
  it (the same host), exits with status 75 and the agents restart the workers;
- ``node``: SIGKILL one agent's process group and its worker's (each torchrun worker has a session of its
  own); the survivor goes on alone, on a world size of 1; ``--rejoin-after`` seconds after it resumed,
  the lost node is started again and the job grows back to 2 (a "node rejoins" row).

Everything is measured from outside (no line was added to the demo): when each metrics.csv row appears
(the demo logs every 10 steps and at epoch ends), the checkpoint files' mtimes, the worker processes'
start times (``/proc``) and when they are gone, and when lines arrive on the agents' output ("Initialized
processing group", "resumed from ... iteration I", the agents' and the watchdog's messages). Per fault:

- *steps lost*: the steps run after the checkpoint that the restart resumed from (they are replayed);
  the last one is estimated from the last row before the fault and the step rate (rows come every 10 steps);
- *detection*: fault -> the first reaction (the watchdog's or Preemption's message, an agent's "Worker group
  FAILED" or "closing signal", or a worker other than the victim ending);
- *stop*: -> every worker of the old round gone;
- *restart*: -> the last worker of the new round started (the agents' rendezvous);
- *start-up*: -> "Initialized processing group" (interpreter, imports, process group);
- *load*: -> "resumed from" (data, model, reading the checkpoint);
- *first step*: -> the first resumed step done (its row's time less the steps after it, at the round's rate);
- *total*: fault -> first step.

Goodput is the time spent on steps that count over the wall time from the job's first step to its last:
each fault costs the time of its replayed steps (fault time less its checkpoint's mtime) plus its total.
The uninterrupted run of the same settings (run first) gives a cross-check (its training time over the
faulted run's) and the reference weights: ``torch.equal`` when every step ran on 2 ranks, else (a node was
lost: some steps ran on 1 rank) the largest absolute difference. The run's length comes from a short
calibration run: ``--minutes`` of training when nothing fails.

Run: ``.venv/bin/python benchmarks/chaos.py [--minutes 3] [--fault-every 60] [--seed 0] [--params 50]``
(about 2 x ``--minutes`` plus the faults' cost: 9 minutes by default; logs and outputs under ``--output``,
default runs/chaos). The faults cycle in the order of ``--kinds``; the last 20 s of training get none.
``--params 50`` trains a ~50M-parameter MLP in place of the demo's model (the demo otherwise unchanged).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO

import torch
from torch import nn

POLL_SECONDS = 0.05
QUIET_END = 20.0  # no fault in the last seconds of training (at the uninterrupted run's speed)
LOG_EVERY = 10  # the demo writes a metrics row every 10 iterations (and one at each epoch's end)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",  # lines arrive when they are printed: their arrival time is when they happened
    "MPLBACKEND": "Agg",
    "GLOO_SOCKET_IFNAME": "lo",
    "LOGLEVEL": "INFO",  # the agents say when they notice a failure and when they restart
    "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1",  # needed on torch 2.13 for a lost node to rejoin
}
RESUMED = re.compile(r"resumed from (\S+) at epoch \d+, iteration (\d+)")
AFRESH = "no checkpoint found: starting afresh"
GROUP_READY = "Initialized processing group"
NOTICED = re.compile(
    r"cadence watchdog|received: stopped after iteration|Worker group (FAILED|UNHEALTHY)|Detected \d+ new nodes"
    r"|closing signal"
)
NEW_NODES = re.compile(r"Detected \d+ new nodes")
# The rendezvous setting of docs/guides/distributed.md: a group forms 2 s after the smallest allowed one is there
# (torch's default: 30 s). Shorter keep-alives are unsafe: an agent 2 s late with its keep-alive on a loaded
# machine was declared dead, and the rejoining node formed a second group of its own beside it.
RDZV_CONF = "last_call_timeout=2"
CHECKPOINT = re.compile(r"checkpoint_(\d+)\.pt$")


class Fault(Enum):
    """What happens to the job."""

    KILL = "kill"
    TERM = "term"
    STOP = "stop"
    NODE = "node"
    REJOIN = "rejoin"

    @property
    def label(self) -> str:
        return {
            "kill": "SIGKILL a worker",
            "term": "SIGTERM a worker",
            "stop": "SIGSTOP a worker",
            "node": "node lost",
            "rejoin": "node rejoins",
        }[self.value]


@dataclass
class Line:
    at: float
    node: str
    text: str


@dataclass
class Worker:
    pid: int
    node: str
    start: float
    end: float | None = None


@dataclass
class Injection:
    kind: Fault
    at: float
    victims: list[int]


@dataclass
class Recovery:
    kind: Fault
    at: float  # seconds after the job's first step
    steps_lost: int
    resumed_at: int
    replayed: float  # seconds of the steps run after the checkpoint the restart resumed from
    phases: dict[str, float]  # detection, stop, restart, start-up, load, first step (seconds)

    @property
    def total(self) -> float:
        return sum(self.phases.values())


PHASES = ("detection", "stop", "restart", "start-up", "load", "first step")


def started_at(pid: int) -> float | None:
    """When process ``pid`` started (wall-clock seconds), from ``/proc``; ``None`` once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
    return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / CLOCK_TICKS)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its agent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


class Agent:
    """One torchrun agent: a node of the elastic job, with its worker(s); its output is read line by line."""

    def __init__(self, name: str, command: list[str], environment: dict[str, str], log: Path, lines: list[Line]):
        self.name = name
        self._log: IO[str] = log.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: a lost node is one killpg
        )
        self._reader = threading.Thread(target=self._read, args=(lines,), daemon=True)
        self._reader.start()

    def _read(self, lines: list[Line]) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            lines.append(Line(time.time(), self.name, text.rstrip("\n")))
            self._log.write(text)
        self._log.close()

    def workers(self) -> list[int]:
        """The worker processes that the agent runs now."""
        pids: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            try:
                pids += [int(pid) for pid in (task / "children").read_text().split()]
            except OSError:
                continue
        return pids

    def lose(self) -> list[int]:
        """SIGKILL the agent's process group and its workers' (each in a session of its own): a lost node."""
        victims = self.workers()
        for group in [self.process.pid, *victims]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        return victims

    def finish(self) -> None:
        """Wait for the agent to exit and for its last lines."""
        self.process.wait()
        self._reader.join(timeout=10)


class MetricsTail:
    """The steps of metrics.csv's rows, read as they appear; a rewritten file (a resumed run drops the rows it
    replays) is read again, and the steps it dropped count as new when they come back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._inode: int | None = None
        self._offset = 0  # where the last complete row starts: it may be written again with more values
        self._columns = 0
        self._steps: set[int] = set()
        self._stale_above: int | None = None  # rows above this step are an earlier round's, still in the file

    def new_steps(self) -> tuple[list[int], float]:
        """The steps of the rows that appeared since the last call, and when the file was last written."""
        try:
            with self.path.open("rb") as file:
                status = os.fstat(file.fileno())
                rewritten = status.st_ino != self._inode
                start = 0 if rewritten or status.st_size < self._offset else self._offset
                file.seek(start)
                data = file.read()
                written = os.fstat(file.fileno()).st_mtime  # after the read: no earlier than any row read
        except FileNotFoundError:
            return [], 0.0
        if rewritten:  # the logger dropped the rows that a resumed run replays: what is left is not stale
            self._inode, self._stale_above = status.st_ino, None
        if start == 0:
            header, _, data = data.partition(b"\n")
            self._columns, start = header.count(b",") + 1, len(header) + 1
        steps = self._parse(data)
        if self._stale_above is not None:
            steps = [step for step in steps if step <= self._stale_above]
        new = [step for step in dict.fromkeys(steps) if step not in self._steps]
        self._steps.update(new)
        complete = data[: data.rfind(b"\n") + 1]
        self._offset = start + complete.rfind(b"\n", 0, max(len(complete) - 1, 0)) + 1
        return new, written

    def forget_after(self, step: int) -> None:
        """A run resumed at ``step``: the rows after it count again when they are written anew (the old ones
        stay in the file until the logger drops them)."""
        stale = {seen for seen in self._steps if seen > step}
        if stale:
            self._stale_above = step
        self._steps -= stale

    def _parse(self, data: bytes) -> list[int]:
        steps = []
        for row in data.split(b"\n")[:-1]:  # complete rows only
            fields = row.split(b",")
            if len(fields) == self._columns and fields[0].isdigit():
                steps.append(int(fields[0]))
        return steps


@dataclass
class Job:
    """An elastic run of the demo (two agents) and what can be seen of it from outside."""

    out: Path
    worker_command: list[str]
    rdzv_conf: str
    lines: list[Line] = field(default_factory=list)
    resumes: list[tuple[float, int]] = field(default_factory=list)  # (when "resumed from" arrived, iteration)
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (when written, step) of each poll's newest row
    checkpoints: list[tuple[int, float]] = field(default_factory=list)  # (step, mtime) of each file written
    workers: dict[int, Worker] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    lost: list[Agent] = field(default_factory=list)

    def start(self) -> None:
        shutil.rmtree(self.out, ignore_errors=True)
        self.out.mkdir(parents=True)
        self._metrics = MetricsTail(self.out / "metrics.csv")
        self._lines_read = 0
        self._port = free_port()
        store = f"import time, torch.distributed as d; s = d.TCPStore('127.0.0.1', {self._port}, is_master=True, "
        store += "wait_for_workers=False); time.sleep(10**9)"
        self._store = subprocess.Popen([sys.executable, "-c", store], start_new_session=True)
        deadline = time.monotonic() + 60
        while not self._store_listens():
            if time.monotonic() > deadline or self._store.poll() is not None:
                raise RuntimeError("the rendezvous store did not start")
            time.sleep(0.1)
        for name in ("a", "b"):
            self.start_agent(name)

    def _store_listens(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self._port)) == 0

    def start_agent(self, name: str) -> None:
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1:2", "--nproc_per_node", "1"]
        command += ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{self._port}", "--rdzv-id", "chaos"]
        command += ["--rdzv-conf", self.rdzv_conf, "--max-restarts", "1000", *self.worker_command]
        environment = {**os.environ, **ENVIRONMENT}
        self.agents[name] = Agent(name, command, environment, self.out / f"agent-{name}.log", self.lines)

    def poll(self) -> None:
        now = time.time()
        read, self._lines_read = self._lines_read, len(self.lines)  # the readers append meanwhile: a snapshot
        for line in self.lines[read : self._lines_read]:
            match = RESUMED.search(line.text)
            if match or AFRESH in line.text:
                self.resumes.append((line.at, int(match[2]) if match else 0))
                self._metrics.forget_after(self.resumes[-1][1])
        steps, written = self._metrics.new_steps()
        if steps:  # the file's mtime is when its newest row was written; a poll comes many steps later
            self.arrivals.append((written, max(steps)))
        known = set(self.checkpoints)
        try:
            names = os.listdir(self.out / "checkpoints")
        except FileNotFoundError:
            names = []
        for name in names:
            if match := CHECKPOINT.match(name):
                try:
                    checkpoint = (int(match[1]), os.stat(self.out / "checkpoints" / name).st_mtime)
                except FileNotFoundError:
                    continue
                if checkpoint not in known:
                    self.checkpoints.append(checkpoint)
        for agent in self.agents.values():
            for pid in agent.workers():
                if pid not in self.workers and (start := started_at(pid)) is not None:
                    self.workers[pid] = Worker(pid, agent.name, start)
        for worker in self.workers.values():
            if worker.end is None and not alive(worker.pid):
                worker.end = now

    def running(self) -> bool:
        return any(agent.process.poll() is None for agent in self.agents.values())

    def stop(self) -> None:
        """End whatever this job started that is still running."""
        running = [w.pid for w in self.workers.values() if w.end is None and alive(w.pid)]
        running += [agent.process.pid for agent in self.agents.values() if agent.process.poll() is None]
        for group in running:  # each started a session of its own: its pid is its process group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        for agent in [*self.agents.values(), *self.lost]:
            agent.finish()
        self._store.kill()
        self._store.wait()


def free_port() -> int:
    from cadence.distributed.process_group import free_port as cadence_free_port

    return cadence_free_port()


@dataclass
class Chaos:
    """Injects one fault at a random moment of each interval, the kinds in turn, once the job has recovered."""

    kinds: list[Fault]
    every: float
    rejoin_after: float
    quiet_from: int  # no fault or rejoin from this step on: the job could end before it recovered
    rng: random.Random
    injections: list[Injection] = field(default_factory=list)
    _t0: float | None = None
    _interval: int = 0
    _next_at: float | None = None
    _lost: str | None = None  # the node to start again
    _faults: int = 0

    def step(self, job: Job) -> None:
        now = time.time()
        recovered_at = self._recovered_at(job)
        if recovered_at is None:
            return
        if self._t0 is None:
            self._t0 = recovered_at
        if job.arrivals and job.arrivals[-1][1] >= self.quiet_from:
            return
        if self._lost is not None:
            if now >= recovered_at + self.rejoin_after:
                job.start_agent(self._lost)
                self.injections.append(Injection(Fault.REJOIN, now, []))
                say(f"{Fault.REJOIN.label} (node {self._lost} started again)")
                self._lost, self._next_at = None, None
            return
        if self._next_at is None:
            start = max(self._t0 + self._interval * self.every, recovered_at + 1.0)
            while start >= self._t0 + (self._interval + 1) * self.every:
                self._interval += 1
            self._next_at = self.rng.uniform(start, self._t0 + (self._interval + 1) * self.every)
        if now >= self._next_at:
            self._inject(job, self.kinds[self._faults % len(self.kinds)])
            self._faults, self._interval, self._next_at = self._faults + 1, self._interval + 1, None

    def _recovered_at(self, job: Job) -> float | None:
        """When the job ran its first step since the last fault (``None``: not yet)."""
        since = self.injections[-1].at if self.injections else 0.0
        resumed = next((at for at, _ in job.resumes if at > since), None)
        if resumed is None:
            return None
        index = bisect.bisect_right(job.arrivals, (resumed, math.inf))
        return job.arrivals[index][0] if index < len(job.arrivals) else None

    def _inject(self, job: Job, kind: Fault) -> None:
        if kind is Fault.NODE:
            self._lost = self.rng.choice(sorted(job.agents))
            job.lost.append(job.agents.pop(self._lost))
            victims = job.lost[-1].lose()
        else:
            victims = [self.rng.choice(sorted(pid for agent in job.agents.values() for pid in agent.workers()))]
            number = {Fault.KILL: signal.SIGKILL, Fault.TERM: signal.SIGTERM, Fault.STOP: signal.SIGSTOP}[kind]
            os.kill(victims[0], number)
        self.injections.append(Injection(kind, time.time(), victims))
        say(f"{kind.label} (pids {victims})")


def say(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", flush=True)


def seconds_per_step(arrivals: list[tuple[float, int]], since: float, until: float) -> float | None:
    """The step time of one round of workers, from the rows that appeared between ``since`` and ``until``."""
    window = [(at, step) for at, step in arrivals if since < at <= until]
    if len(window) < 2 or window[-1][1] <= window[0][1]:
        return None
    return (window[-1][0] - window[0][0]) / (window[-1][1] - window[0][1])


def progress(job: Job) -> list[tuple[float, int]]:
    """``(time, step)``: each step known to be done at that time (rows' and checkpoint files' mtimes)."""
    return sorted([*job.arrivals, *((mtime, step) for step, mtime in job.checkpoints)])


def training_span(job: Job, fallback: float) -> tuple[float, float]:
    """When the job's first step started and when its last step was done."""
    points, first_resume = progress(job), job.resumes[0][0]
    at, step = next((at, step) for at, step in points if at > first_resume)
    step_time = seconds_per_step(points, first_resume, at + 30.0) or fallback
    last = max(step for _, step in points)
    return at - step * step_time, max(at for at, step in points if step == last)


def analyse(job: Job, injections: list[Injection], epoch_length: int, fallback: float) -> list[Recovery]:
    """One :class:`Recovery` per injection that the job recovered from."""
    begin, _ = training_span(job, fallback)
    points = progress(job)
    recoveries = []
    for index, injection in enumerate(injections):
        fault = injection.at
        if injection.kind is Fault.REJOIN:  # its cost starts when the survivor's agent stops its workers
            noticed = [line.at for line in job.lines if line.at > injection.at and NEW_NODES.search(line.text)]
            if not noticed:
                continue
            fault = min(noticed)
        resume = next(((at, iteration) for at, iteration in job.resumes if at > fault), None)
        if resume is None:
            continue
        resumed, iteration = resume
        then = injections[index + 1].at if index + 1 < len(injections) else math.inf
        round_began = max((at for at, _ in job.resumes if at < fault), default=begin)
        before = [(at, step) for at, step in points if round_began < at <= fault]
        step_before = seconds_per_step(points, round_began, fault) or fallback
        step_after = seconds_per_step(points, resumed, then) or fallback
        last_step = iteration
        if before:  # rows come every LOG_EVERY steps and at epoch ends: the steps after the last one are estimated
            row_at, row_step = before[-1]
            next_row = min((row_step // LOG_EVERY + 1) * LOG_EVERY, (row_step // epoch_length + 1) * epoch_length)
            last_step = row_step + min(int((fault - row_at) / step_before), next_row - row_step - 1)
        steps_lost = max(0, last_step - iteration)
        saved = [mtime for step, mtime in job.checkpoints if step == iteration and mtime < resumed]
        replayed = max(0.0, fault - max(saved)) if saved else steps_lost * step_before
        marks = [fault, *phase_marks(job, injection, fault, resumed)]
        after = next(((at, step) for at, step in points if at > resumed and step > iteration), None)
        marks.append(resumed if after is None else after[0] - (after[1] - iteration - 1) * step_after)
        for position in range(1, len(marks)):  # each phase ends no earlier than the one before it
            marks[position] = max(marks[position], marks[position - 1])
        phases = {name: marks[position + 1] - marks[position] for position, name in enumerate(PHASES)}
        recoveries.append(Recovery(injection.kind, fault - begin, steps_lost, iteration, replayed, phases))
    return recoveries


def phase_marks(job: Job, injection: Injection, fault: float, resumed: float) -> list[float]:
    """When the failure was noticed, the old workers were all gone, the new ones all started, the process
    group formed, and the checkpoint was loaded."""
    old = [w for w in job.workers.values() if w.start < fault and (w.end is None or w.end > fault)]
    new = [w for w in job.workers.values() if fault < w.start <= resumed]
    reactions = [line.at for line in job.lines if fault <= line.at <= resumed and NOTICED.search(line.text)]
    others_ended = [w.end for w in old if w.pid not in injection.victims and w.end is not None]
    noticed = min([*reactions, *others_ended], default=fault)
    stopped = max((w.end if w.end is not None else resumed for w in old), default=noticed)
    started = max((w.start for w in new), default=stopped)
    ready = [line.at for line in job.lines if started < line.at <= resumed and GROUP_READY in line.text]
    return [noticed, stopped, started, min(ready, default=started), resumed]


def final_weights(out: Path) -> tuple[int, dict[str, torch.Tensor]]:
    """The trainer's iteration and the model's weights in the newest checkpoint under ``out``."""
    files = sorted((out / "checkpoints").glob("checkpoint_*.pt"), key=lambda path: int(path.stem.split("_")[1]))
    state = torch.load(files[-1], weights_only=True)
    return int(state["trainer"]["iteration"]), state["model"]


def run_job(
    out: Path, worker_command: list[str], rdzv_conf: str, *, limit: float, chaos: Chaos | None = None,
    stop_after: float | None = None,
) -> Job:  # fmt: skip
    """Run the elastic job to its end (or ``stop_after`` seconds of training), with ``chaos`` injecting faults."""
    job = Job(out, worker_command, rdzv_conf)
    deadline = time.monotonic() + limit
    job.start()
    try:
        while job.running():
            job.poll()
            if chaos is not None:
                chaos.step(job)
            if stop_after is not None and job.arrivals and job.arrivals[-1][0] - job.arrivals[0][0] > stop_after:
                return job
            if time.monotonic() > deadline:
                raise RuntimeError(f"the job in {out} ran past {limit:.0f} s; the agents' logs are there")
            time.sleep(POLL_SECONDS)
        failed = {agent.name: agent.process.returncode for agent in job.agents.values() if agent.process.returncode}
        if failed:
            raise RuntimeError(f"the job in {out} failed (agents' exit status {failed}); the agents' logs are there")
        return job
    finally:
        job.stop()
        job.poll()


def demo_worker(params_millions: float, argv: list[str]) -> None:
    """Run the demo (in a torchrun worker) with an MLP of about ``params_millions`` million parameters."""
    from cadence.examples import digits

    width = round(math.sqrt(params_millions * 1e6 / 2))  # two width x width layers hold nearly all of them

    def make_model() -> nn.Module:
        layers = [nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)]
        return nn.Sequential(*layers, nn.ReLU(), nn.Linear(width, 10))

    digits.make_model = make_model  # the demo builds its model through this module-level name
    digits.main(argv)


def epoch_length() -> int:
    """Iterations per epoch of the demo (global batch 32; the same on 1 and 2 ranks)."""
    from cadence.examples.digits import load_splits

    return math.ceil(math.ceil(len(load_splits(0)["train"]) / 2) / 16)


def report(
    recoveries: list[Recovery], *, wall: float, reference: float, save_every: int, weights: str
) -> str:  # fmt: skip
    """The Markdown table of the recoveries and the summary."""
    lines = [
        "| # | fault | at (s) | steps lost | detection | stop | restart | start-up | load | first step "
        "| total (s) | lost (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for number, r in enumerate(recoveries, 1):
        phases = " | ".join(f"{r.phases[name]:.1f}" for name in PHASES)
        lines.append(
            f"| {number} | {r.kind.label} | {r.at:.0f} | {r.steps_lost} | {phases} | {r.total:.1f} "
            f"| {r.replayed + r.total:.1f} |"
        )
    lost = sum(r.replayed + r.total for r in recoveries)
    faults = [r for r in recoveries if r.kind is not Fault.REJOIN]
    worst = max((r.steps_lost for r in recoveries), default=0)
    by_phase = {"replayed steps": sum(r.replayed for r in recoveries)}
    by_phase |= {name: sum(r.phases[name] for r in recoveries) for name in PHASES}
    ranked = sorted(by_phase.items(), key=lambda item: -item[1])
    lines += [
        "",
        f"- goodput: {1 - lost / wall:.1%} ({wall - lost:.0f} s of steps that count in {wall:.0f} s from the first "
        f"step to the last; {lost:.0f} s lost to {len(faults)} faults"
        f"{' and a rejoin' if len(faults) < len(recoveries) else ''})",
        f"- cross-check: the uninterrupted run trained {reference:.0f} s, {reference / wall:.1%} of this run's "
        f"{wall:.0f} s",
        f"- steps lost: at most {worst} (a checkpoint every {save_every} steps: "
        f"{'within' if worst <= save_every else 'MORE THAN'} the interval)",
        f"- recovery (fault -> first step): mean {statistics.fmean(r.total for r in faults):.1f} s"
        if faults
        else "- no fault injected",
        "- lost time by phase: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in ranked),
        f"- dominant: {ranked[0][0]} ({ranked[0][1] / lost:.0%} of the lost time)" if lost else "- nothing lost",
        f"- final weights against the uninterrupted run: {weights}",
    ]
    return "\n".join(lines)


def compare_weights(reference: Path, faulted: Path, world_size_changed: bool) -> str:
    """``torch.equal`` of the final weights, or their largest difference when the world size changed."""
    (expected_iteration, expected), (iteration, got) = final_weights(reference), final_weights(faulted)
    if iteration != expected_iteration:
        return f"NOT comparable: the runs ended at iterations {iteration} and {expected_iteration}"
    equal = all(torch.equal(got[name], tensor) for name, tensor in expected.items())
    largest = max(float((got[name] - tensor).abs().max()) for name, tensor in expected.items())
    if world_size_changed:
        return f"max abs difference {largest:.2e} (a node was lost: some steps ran on 1 rank), equal: {equal}"
    return "torch.equal" if equal else f"NOT equal (max abs difference {largest:.2e})"


def kinds(text: str) -> list[Fault]:
    """The ``--kinds`` list."""
    try:
        chosen = [Fault(kind.strip()) for kind in text.split(",")]
    except ValueError:
        chosen = [Fault.REJOIN]
    if Fault.REJOIN in chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: give some of kill, term, stop, node (a rejoin follows node)")
    return chosen


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="training time of the run without faults")
    parser.add_argument("--epochs", type=int, default=None, help="epochs to train (default: from --minutes)")
    parser.add_argument("--fault-every", type=float, default=60.0, help="one fault in each interval of this many s")
    parser.add_argument("--seed", type=int, default=0, help="seed of the faults' moments and victims")
    parser.add_argument(
        "--kinds",
        type=kinds,
        default="kill,stop,node,term",
        help="the faults, in turn (comma-separated): kill, term, stop, node",
    )
    parser.add_argument("--save-every", type=int, default=20, help="the demo's checkpoint interval (iterations)")
    parser.add_argument("--watchdog-floor", type=float, default=10.0, help="the demo's --watchdog-floor (s)")
    parser.add_argument("--rejoin-after", type=float, default=5.0, help="a lost node rejoins this long after")
    parser.add_argument(
        "--rdzv-conf",
        default=RDZV_CONF,
        help="more c10d rendezvous settings ('': torch's defaults, last_call_timeout=30, keep_alive_interval=5, "
        "keep_alive_max_attempt=3)",
    )
    parser.add_argument("--params", type=float, default=None, help="train an MLP of about this many million params")
    parser.add_argument("--calibrate", type=float, default=15.0, help="seconds of training to time the steps")
    parser.add_argument("--output", type=Path, default=Path("runs/chaos"), help="outputs and agents' logs")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    entry = ["-m", "cadence.examples.digits"]
    if args.params is not None:
        entry = [str(Path(__file__).resolve()), "--worker-params", str(args.params)]
    flags = ["--quiet", "--no-tensorboard", "--resume", "--save-every", str(args.save_every)]
    flags += ["--watchdog-floor", str(args.watchdog_floor)]
    rdzv_conf = ",".join(["is_host=false", *filter(None, [args.rdzv_conf])])
    length = epoch_length()
    epochs = args.epochs
    if epochs is None:
        print(f"calibrating: {args.calibrate:.0f} s of training", flush=True)
        worker = [*entry, "--epochs", "100000", "--patience", "100000", *flags]
        worker += ["--output", str(args.output / "calibration")]
        job = run_job(args.output / "calibration", worker, rdzv_conf, limit=600, stop_after=args.calibrate)
        points = progress(job)
        step = seconds_per_step(points, points[0][0] + args.calibrate / 3, math.inf) if points else None  # warm
        if step is None:
            raise SystemExit("error: the calibration run logged too few steps; give --epochs")
        epochs = max(2, round(args.minutes * 60 / (step * length)))
    worker = [*entry, "--epochs", str(epochs), "--patience", str(epochs + 1), *flags]
    limit = 600 + 20 * args.minutes * 60
    print(f"{epochs} epochs of {length} steps; the uninterrupted run first", flush=True)
    reference = run_job(
        args.output / "reference", [*worker, "--output", str(args.output / "reference")], rdzv_conf, limit=limit
    )
    fallback = seconds_per_step(progress(reference), 0.0, math.inf) or 0.01
    begin, end = training_span(reference, fallback)
    print(f"uninterrupted: {end - begin:.0f} s of training; now with faults", flush=True)
    quiet_from = epochs * length - round(QUIET_END / fallback)  # the last QUIET_END seconds of training
    chaos = Chaos(args.kinds, args.fault_every, args.rejoin_after, quiet_from, random.Random(args.seed))
    faulted = run_job(
        args.output / "chaos", [*worker, "--output", str(args.output / "chaos")], rdzv_conf, limit=limit, chaos=chaos
    )
    recoveries = analyse(faulted, chaos.injections, length, fallback)
    chaos_begin, chaos_end = training_span(faulted, fallback)
    lost_node = any(injection.kind is Fault.NODE for injection in chaos.injections)
    weights = compare_weights(args.output / "reference", args.output / "chaos", lost_node)
    model = (
        f"an MLP of ~{args.params:g}M parameters" if args.params is not None else "the demo's MLP (9,610 parameters)"
    )
    print(
        f"\n{model}, {epochs} epochs x {length} steps, 2 torchrun agents x 1 gloo worker, a checkpoint every "
        f"{args.save_every} steps, watchdog floor {args.watchdog_floor:g} s, a fault every {args.fault_every:g} s "
        f"(seed {args.seed})\n"
    )
    print(
        report(
            recoveries, wall=chaos_end - chaos_begin, reference=end - begin, save_every=args.save_every, weights=weights
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker-params"]:  # a torchrun worker of --params: the demo with a larger model
        demo_worker(float(sys.argv[2]), sys.argv[3:])
    else:
        main()

"""Read a SLURM job's environment (``srun``) as the ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``... torch expects."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from collections.abc import Mapping

__all__ = ["REQUIRED_SLURM_VARIABLES", "ddp_environment_from_slurm", "expand_hostlist"]

REQUIRED_SLURM_VARIABLES = (
    "SLURM_JOB_ID",
    "SLURM_PROCID",
    "SLURM_LOCALID",
    "SLURM_NTASKS",
    "SLURM_JOB_NODELIST",
    "SLURM_JOB_NUM_NODES",
)
_TORCH_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
_BASE_PORT = 15000
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")
_BRACKETED = re.compile(r"([^\[\]]*)\[([^\[\]]*)\]([^\[\]]*)")


def _top_level_items(nodelist: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in nodelist.replace(" ", ""):
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current.append(char)
    items.append("".join(current))
    return [item for item in items if item]


def _expand_numbers(body: str, nodelist: str) -> list[str]:
    numbers: set[int] = set()
    width = 0
    for part in body.split(","):
        match = _RANGE.fullmatch(part)
        if match is None:
            raise ValueError(f"hostlist invalid : {nodelist} (bad range {part!r})")
        start, end = match.group(1), match.group(2) or match.group(1)
        if start.startswith("0"):  # zero-padded names keep the width of their first number
            width = max(width, len(start))
        numbers.update(range(int(start), int(end) + 1))
    return [str(number).zfill(width) for number in sorted(numbers)]


def expand_hostlist(nodelist: str) -> list[str]:
    """Expand SLURM's compressed host list (``node[1-3,7]``, ``gpu-[01-02].x``) into host names.

    Each name may hold one bracketed list of numbers and ranges; zero-padded numbers keep their width.

    Example:
        >>> expand_hostlist("node[1-3,7], login-01")
        ['node1', 'node2', 'node3', 'node7', 'login-01']
        >>> expand_hostlist("gpu[08-10].cluster")
        ['gpu08.cluster', 'gpu09.cluster', 'gpu10.cluster']
    """
    hosts: list[str] = []
    for item in _top_level_items(nodelist):
        match = _BRACKETED.fullmatch(item)
        if match is None:
            if "[" in item or "]" in item:
                raise ValueError(f"hostlist invalid : {nodelist} (cannot read {item!r})")
            hosts.append(item)
            continue
        prefix, body, suffix = match.groups()
        if not prefix:
            continue  # a bare "[...]" names no host
        if not body:
            raise ValueError(f"hostlist invalid : {nodelist} (empty brackets in {item!r})")
        hosts.extend(f"{prefix}{number}{suffix}" for number in _expand_numbers(body, nodelist))
    return hosts


def _first_host(nodelist: str) -> str:
    scontrol = shutil.which("scontrol")
    if scontrol is not None:
        hosts = subprocess.check_output([scontrol, "show", "hostnames", nodelist]).decode().split()
        method = "scontrol"
    else:
        hosts = expand_hostlist(nodelist)
        method = "ignite's hostlist rules"
    if not hosts:
        raise RuntimeError(f"No hostname detected in SLURM_JOB_NODELIST by {method} (nodelist={nodelist!r}).")
    return hosts[0]


def _reconcile(slurm: dict[str, int], torch_given: Mapping[str, str], nnodes: int) -> dict[str, int]:
    """torch's variables set as well (a container hook, or torchrun inside one SLURM task): check they agree."""
    chosen = dict(slurm)
    for key, slurm_value in slurm.items():
        torch_value = int(torch_given[key])
        # On one node torchrun may run several processes per SLURM task, so torch's numbers may be larger.
        agrees = torch_value == slurm_value if nnodes > 1 else torch_value >= slurm_value
        if not agrees:
            relation = "==" if nnodes > 1 else ">="
            raise RuntimeError(
                "Environment variable defined for PyTorch Distributed context is inconsistent with the equivalent "
                f"SLURM variable: expected {key} {relation} {slurm_value}, got {torch_value}. "
                f"SLURM: {slurm}; torch: {dict(torch_given)}."
            )
        chosen[key] = torch_value
    return chosen


def ddp_environment_from_slurm(environ: Mapping[str, str]) -> dict[str, str | int]:
    """torch's ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` for a SLURM task.

    The master is the job's first host and the port ``15000 + last 4 digits of the job id``, unless all of
    torch's variables are already set (and agree with SLURM's), in which case those are used.

    Example:
        >>> slurm = {"SLURM_PROCID": "1", "SLURM_LOCALID": "1", "SLURM_NTASKS": "2", "SLURM_JOB_NUM_NODES": "1",
        ...          "SLURM_JOB_NODELIST": "c[1-2]", "SLURM_JOB_ID": "4321"}
        >>> ddp_environment_from_slurm(slurm)
        {'RANK': 1, 'LOCAL_RANK': 1, 'WORLD_SIZE': 2, 'MASTER_ADDR': 'c1', 'MASTER_PORT': 19321}
    """
    slurm = {
        "RANK": int(environ["SLURM_PROCID"]),
        "LOCAL_RANK": int(environ["SLURM_LOCALID"]),
        "WORLD_SIZE": int(environ["SLURM_NTASKS"]),
    }
    torch_given = {key: environ[key] for key in _TORCH_VARIABLES if key in environ}
    if len(torch_given) == len(_TORCH_VARIABLES):
        chosen = _reconcile(slurm, torch_given, int(environ["SLURM_JOB_NUM_NODES"]))
        return {**chosen, "MASTER_ADDR": torch_given["MASTER_ADDR"], "MASTER_PORT": int(torch_given["MASTER_PORT"])}
    if torch_given:
        missing = [key for key in _TORCH_VARIABLES if key not in torch_given]
        warnings.warn(
            f"We detected the following env variables: {sorted(torch_given.items())}, but will not take them into "
            f"account as the following env vars are missing: {missing}; SLURM's variables are used instead.",
            stacklevel=2,
        )
    port = _BASE_PORT + int(environ["SLURM_JOB_ID"][-4:])
    return {**slurm, "MASTER_ADDR": _first_host(environ["SLURM_JOB_NODELIST"]), "MASTER_PORT": port}

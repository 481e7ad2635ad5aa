"""``make compat``: run Ignite 0.5.5's own released tests against cadence, and against Ignite for the baseline.

Steps:
1. Get the released source distribution with pip (cached in ``.compat/``) and take its ``tests/`` only.
2. Apply the private-internals rule (``compat/exclusions.py``) and list what it leaves out.
3. Run the selected test files twice, in batches of files that share a folder (one pytest process per
   batch, two batches at a time): against the installed
   pytorch-ignite 0.5.5 (the baseline) and against cadence through the stand-in ``compat/ignite``;
   then the files' ``distributed`` tests again in two gloo processes on 127.0.0.1, the way Ignite's
   CI runs them (each counts once more, as "2 processes: <test>").
4. Count, file by file, the tests that pass on Ignite and are not left out; print how many of them
   pass on cadence, and the totals per part. Fail when a part has more failing (or fewer passing)
   counted tests than ``compat/floor.json`` records (``--raise-floor`` records the figures reached).

Usage: ``python compat/run.py [--only SUBSTRING] [--skip-baseline] [--raise-floor]``. ``--skip-baseline`` reuses the
last full run's baseline (``.compat/results/baseline.json``) or, on a fresh clone (CI), the tests that passed on
Ignite as ``--raise-floor`` recorded them in ``compat/floor.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from exclusions import excluded_tests, strip_private_imports

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".compat"
VERSION = "0.5.5"
SDIST = f"pytorch_ignite-{VERSION}"
WORK = CACHE / "work"
FLOOR = HERE / "floor.json"

# The parts of Ignite's suite that this measure covers, with the part each file counts towards.
SELECTION = {
    "engine": ["tests/ignite/engine"],
    "handlers": [
        "tests/ignite/handlers",
        "tests/ignite/contrib/handlers",
        "tests/ignite/contrib/engines",
        "tests/ignite/distributed",
        "tests/ignite/test_utils.py",
        "tests/ignite/base",
    ],
    "metrics": ["tests/ignite/metrics", "tests/ignite/contrib/metrics"],
}
# Service loggers left out of the measure: none (their clients are in requirements-dev.txt; Ignite skips
# its Visdom tests).
SERVICE_LOGGERS: tuple[str, ...] = ()
PYTEST_INI = """[pytest]
markers =
    distributed: distributed
    multinode_distributed: multinode distributed
    tpu: tpu
    order: order
addopts = -p no:cacheprovider --continue-on-collection-errors -q
"""
FILE_TIMEOUT_S = 900
# Ids of the tests run by two gloo processes on 127.0.0.1 (the 2-process phase).
TWO_PROCESSES = "2 processes: "


def fetch_tests() -> Path:
    tests = WORK / "tests"
    if (tests / "ignite" / "conftest.py").exists():
        return WORK
    CACHE.mkdir(exist_ok=True)
    archive = CACHE / f"{SDIST}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"pytorch-ignite=={VERSION}",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(f"{SDIST}/tests/")]
        for member in members:
            member.name = member.name[len(SDIST) + 1 :]
        tar.extractall(WORK, members=members, filter="data")
    for test_file in (WORK / "tests").rglob("test_*.py"):
        original = test_file.read_text()
        test_file.with_suffix(".py.orig").write_text(original)  # the rule reads the file as released
        test_file.write_text(strip_private_imports(original))
    (WORK / "pytest.ini").write_text(PYTEST_INI)
    return WORK


def test_files(work: Path, only: str | None) -> dict[str, str]:
    """Map each selected test file (relative to the work folder) to its part."""
    files = {}
    for part, roots in SELECTION.items():
        for root in roots:
            path = work / root
            found = [path] if path.is_file() else sorted(path.rglob("test_*.py"))
            for file in found:
                rel = file.relative_to(work).as_posix()
                if any(service in rel for service in SERVICE_LOGGERS):
                    continue
                if only is None or only in rel:
                    files[rel] = part
    return files


def run_batch(work: Path, rels: list[str], target: str, *, processes: int = 1) -> dict[str, dict[str, str]]:
    """Run several test files in one pytest process against ``target`` ("ignite" or "cadence").

    Returns, for each file, a map of its test ids to their outcomes. One process per batch, not per file:
    starting pytest with torch and the fixtures costs about 5 s, which per file was most of the run. A file
    that reports no test (a crash or a timeout lost the batch's report) runs again alone.

    With ``processes=2`` only the files' ``distributed`` tests run, in two gloo processes (pytest-xdist
    workers, as Ignite's own CI does); their ids are prefixed with :data:`TWO_PROCESSES`.
    """
    found = _run_pytest(work, rels, target, processes, f"batch-{rels[0]}")
    for rel in rels:
        if not found.get(rel) and len(rels) > 1:
            found[rel] = _run_pytest(work, [rel], target, processes, rel).get(rel, {})
    if processes > 1:
        found = {rel: {TWO_PROCESSES + t: o for t, o in outcomes.items()} for rel, outcomes in found.items()}
    return found


def _run_pytest(work: Path, rels: list[str], target: str, processes: int, name: str) -> dict[str, dict[str, str]]:
    suffix = "" if processes == 1 else f".{processes}procs"
    out = CACHE / "results" / target / (name.replace("/", "__") + suffix + ".xml")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("WORLD_SIZE", None)
    path = [str(work)]
    if target == "cadence":
        path.insert(0, str(HERE))
    env["PYTHONPATH"] = os.pathsep.join(path)
    command = [sys.executable, "-m", "pytest", *rels, f"--junitxml={out}", "--timeout=120", "-p", "no:randomly"]
    if processes > 1:
        env["WORLD_SIZE"] = str(processes)
        command += ["-m", "distributed", "--dist=each", f"--tx={processes}*popen//python={sys.executable}"]
        Path("/tmp/free_port").unlink(missing_ok=True)  # where Ignite's conftest passes rank 0's port on
    with contextlib.suppress(subprocess.TimeoutExpired):  # a lost report makes run_batch retry file by file
        subprocess.run(
            command,
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=FILE_TIMEOUT_S * len(rels),
        )
    return parse_junit(out, rels)


def parse_junit(path: Path, rels: list[str]) -> dict[str, dict[str, str]]:
    """Read a JUnit report: for each of ``rels``, its test ids (``Class::name`` or ``name``) and outcomes."""
    modules = {rel.removesuffix(".py").replace("/", "."): rel for rel in rels}
    found: dict[str, dict[str, str]] = {rel: {} for rel in rels}
    if not path.exists():
        return found
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except ET.ParseError:  # a report cut short
        return found
    for case in cases:
        classname = case.get("classname", "")
        name = case.get("name", "")
        parts = classname.split(".")
        klass = parts[-1] if parts and parts[-1].startswith("Test") else None
        module = ".".join(parts[:-1]) if klass else classname
        if module not in modules:
            continue
        outcomes = found[modules[module]]
        test_id = f"{klass}::{name}" if klass else name
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "skipped"
        else:
            outcome = "passed"
        # A test run by several processes (the 2-process phase) passes only if it passed in each of them.
        previous = outcomes.get(test_id)
        if previous is None or _RANK[outcome] > _RANK[previous]:
            outcomes[test_id] = outcome
    return found


_RANK = {"passed": 0, "skipped": 1, "failed": 2}


def batches(rels: list[str], size: int = 20) -> list[list[str]]:
    """Split the files into batches of at most ``size`` that share a folder (one pytest process each)."""
    by_folder: dict[str, list[str]] = {}
    for rel in rels:
        by_folder.setdefault(rel.rsplit("/", 1)[0], []).append(rel)
    return [group[i : i + size] for group in by_folder.values() for i in range(0, len(group), size)]


def function_of(test_id: str) -> str:
    return test_id.removeprefix(TWO_PROCESSES).split("[", 1)[0]


def check_stand_in(work: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(work)]))
    code = "import ignite, ignite.engine, cadence.engine; assert ignite.engine is cadence.engine"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run only the test files whose path contains this")
    parser.add_argument("--skip-baseline", action="store_true", help="run cadence's side only (see above)")
    parser.add_argument("--raise-floor", action="store_true", help="record the totals reached in floor.json")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    work = fetch_tests()
    check_stand_in(work)
    files = test_files(work, args.only)
    excluded = {rel: excluded_tests((work / rel).with_suffix(".py.orig")) for rel in files}

    distributed = [rel for rel in sorted(files) if "pytest.mark.distributed" in (work / rel).read_text()]
    baseline_cache = CACHE / "results" / "baseline.json"
    recorded = json.loads(FLOOR.read_text()).get("ignite_passing") if FLOOR.exists() else None
    if args.skip_baseline and baseline_cache.exists():
        targets, baseline = ["cadence"], json.loads(baseline_cache.read_text())
    elif args.skip_baseline and recorded:  # a fresh clone (CI): the tests that passed on Ignite when recorded
        targets = ["cadence"]
        baseline = {rel: dict.fromkeys(tests, "passed") for rel, tests in recorded.items()}
        print("make compat: Ignite's side not run; its passing tests are those compat/floor.json records")
    else:
        targets, baseline = ["ignite", "cadence"], {}
    ours: dict[str, dict[str, str]] = {}
    results = {"ignite": baseline, "cadence": ours}
    tasks = [(target, batch) for batch in batches(sorted(files)) for target in targets]
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = pool.map(lambda task: run_batch(work, task[1], task[0]), tasks)
        for (target, _), found in zip(tasks, outcomes, strict=True):
            results[target].update(found)
    # The 2-process phase runs alone: Ignite's fixtures pass rank 0's port through one fixed file.
    if distributed:
        for target in targets:
            for rel, found in run_batch(work, distributed, target, processes=2).items():
                results[target].setdefault(rel, {}).update(found)
    if "ignite" in targets and not args.only:
        baseline_cache.write_text(json.dumps(baseline, indent=1, sort_keys=True))

    rows, totals, failures = [], {part: [0, 0] for part in SELECTION}, {}
    for rel in sorted(files):
        left_out = excluded[rel]
        on_ignite, on_cadence = baseline.get(rel, {}), ours.get(rel, {})
        counted = [t for t, outcome in on_ignite.items() if outcome == "passed" and function_of(t) not in left_out]
        passed = [t for t in counted if on_cadence.get(t) == "passed"]
        failures[rel] = sorted(set(counted) - set(passed))
        rows.append((rel, len(passed), len(counted), len(left_out)))
        totals[files[rel]][0] += len(passed)
        totals[files[rel]][1] += len(counted)

    report = render(rows, totals, excluded, failures)
    (CACHE / "report.md").write_text(report)
    print(report)
    if args.only:
        return 0
    passing = {rel: sorted(t for t, o in baseline.get(rel, {}).items() if o == "passed") for rel in sorted(files)}
    return check_floor(totals, args.raise_floor, {rel: tests for rel, tests in passing.items() if tests})


def render(
    rows: list[tuple[str, int, int, int]],
    totals: dict[str, list[int]],
    excluded: dict[str, dict[str, str]],
    failures: dict[str, list[str]],
) -> str:
    lines = ["| Ignite test file | passed on cadence / counted | left out (private internals) |", "|---|---|---|"]
    for rel, passed, counted, left_out in rows:
        lines.append(f"| `{rel.removeprefix('tests/ignite/')}` | {passed} / {counted} | {left_out} |")
    for part, (passed, counted) in totals.items():
        share = 100.0 * passed / counted if counted else 100.0
        lines.append(f"| **{part} total** | **{passed} / {counted} ({share:.1f}%)** | |")
    lines += ["", "Left out by the private-internals rule:"]
    for rel, reasons in excluded.items():
        for test, reason in sorted(reasons.items()):
            lines.append(f"- `{rel.removeprefix('tests/ignite/')}::{test}`: {reason}")
    lines += ["", "Counted tests failing on cadence:"]
    for rel, tests in failures.items():
        for test in tests:
            lines.append(f"- `{rel.removeprefix('tests/ignite/')}::{test}`")
    return "\n".join(lines) + "\n"


def check_floor(totals: dict[str, list[int]], raise_floor: bool, ignite_passing: dict[str, list[str]]) -> int:
    """Fail when a part has more failing counted tests than recorded, or fewer passing ones.

    A test that fails on Ignite itself on this run's machine is not counted, so it cannot count as a
    pass either: the passes are compared after allowing for the counted tests that dropped out.
    """
    floor = json.loads(FLOOR.read_text()) if FLOOR.exists() else {}
    status = 0
    for part, (passed, counted) in totals.items():
        record = floor.get(part)  # (the floor's "ignite_passing" is no part)
        if record is None:
            continue
        failing, dropped = counted - passed, max(0, record["counted"] - counted)
        if failing > record["failing"] or passed + dropped < record["passed"]:
            print(
                f"make compat: the {part} part fell to {passed} of {counted} counted tests ({failing} failing); "
                f"compat/floor.json records {record['passed']} of {record['counted']} ({record['failing']} failing)."
            )
            status = 1
    if raise_floor and status == 0:
        reached: dict[str, Any] = {
            part: {"passed": p, "counted": c, "failing": c - p} for part, (p, c) in totals.items()
        }
        # The tests that pass on Ignite (before the private-internals rule): `--skip-baseline` on a fresh clone
        # (CI) counts against them instead of running Ignite's side again.
        reached["ignite_passing"] = ignite_passing
        FLOOR.write_text(json.dumps(reached, indent=2) + "\n")
        print(f"floor raised: {FLOOR}")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""``make compat-ecosystem``: libraries built on Ignite run their own tests with cadence serving ``ignite``.

``make compat`` measures cadence against Ignite's own tests; this measures it against code that calls
Ignite from outside and that nobody here can edit: MONAI's Ignite-facing tests (MONAI 1.5.0's test tree in
``../shared/monai-tests``, run against the installed ``monai``) and optuna-integration's
``PyTorchIgnitePruningHandler`` test (from its source distribution on the package index).

Steps, for each library:

1. Copy its tests into a temporary folder (they write files next to themselves; the sources stay
   untouched) and select the Ignite-facing files (:data:`LIBRARIES`); list what is left out and why.
2. Run the selection twice, one pytest process each (pytest-xdist workers, a file per worker at a time):
   against the installed pytorch-ignite 0.5.5 (the baseline), then with cadence serving ``ignite``
   (``pytest -p cadence.as_ignite``). A probe (this file, loaded as a pytest plugin) checks which
   ``ignite`` each process imported.
3. Count, file by file, the tests that pass on Ignite; print how many of them pass on cadence ("P of N"),
   the totals and the wall time of each run. Fail when a library has more failing (or fewer passing)
   counted tests than ``compat/ecosystem_floor.json`` records (``--raise-floor`` records the figures
   reached, with the ids of the tests that passed on Ignite).

``--skip-baseline`` runs cadence's side only, against the baseline of the last full run
(``.compat/ecosystem/baseline.json``) or, where there is none (a fresh clone, CI), against the tests that
passed on Ignite when the floor was recorded.

Usage: ``python compat/ecosystem.py [--only SUBSTRING] [--skip-baseline] [--raise-floor] [--jobs N]``;
``--only`` matches ``library:path`` (``--only optuna``, ``--only handlers/test_handler_stats``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".compat" / "ecosystem"
FLOOR = HERE / "ecosystem_floor.json"
SHARED = ROOT.parent / "shared"
TARGETS = ("ignite", "cadence")
RUN_TIMEOUT_S = 3600
TEST_TIMEOUT_S = 600
PROBE_ENV = "CADENCE_ECOSYSTEM_PROBE"
# "outcome" values, worst last: a test run by several processes passes only if it passed in each.
_RANK = {"passed": 0, "skipped": 1, "failed": 2}

# Each test's outcome and the first lines of its failure or skip message.
Outcomes = dict[str, dict[str, list[str]]]  # file -> test id -> [outcome, message]


@dataclass
class Selection:
    """What a library's ``prepare`` put in the work folder: the test files to run and what it left out."""

    files: list[str]
    left_out_files: dict[str, str] = field(default_factory=dict)  # file or folder -> why
    left_out_tests: dict[str, str] = field(default_factory=dict)  # "file::Class::test" -> why


@dataclass(frozen=True)
class Library:
    name: str
    distribution: str  # whose installed version the run reports
    prepare: Callable[[Path], Selection]  # copies the tests into the work folder, selects
    parallel: bool  # pytest-xdist workers (--jobs) or one process


# ---------------------------------------------------------------------------------------------------- MONAI

MONAI_TESTS = SHARED / "monai-tests"
# All of these, and every other test file that names ignite or MONAI's engines and handlers (built on it).
MONAI_ALWAYS = ("tests/handlers/", "tests/engines/", "tests/bundle/test_bundle_workflow.py")
IGNITE_FACING = re.compile(r"\bignite\b|\bmonai\.(?:apps\.\w+\.)?(?:engines|handlers)\b")
# End-to-end trainings that do not finish on CPU on Ignite itself (tests/integration; MONAI's quick mode skips
# them). The folder's other two files that use Ignite, quick ones, are in.
_TOO_SLOW = "a training that MONAI's TimedCall stops after {} on Ignite too, on CPU"
MONAI_LEFT_OUT_FILES = {
    "tests/integration/test_integration_sliding_window.py": _TOO_SLOW.format("20 s"),
    "tests/integration/test_integration_unet_2d.py": _TOO_SLOW.format("20 s"),
    "tests/integration/test_integration_workflows_gan.py": _TOO_SLOW.format("200 s"),
    "tests/integration/test_integration_workflows_adversarial.py": _TOO_SLOW.format("300 s"),
    "tests/integration/test_integration_workflows.py": (
        "3D segmentation trainings checked against answers recorded on GPUs: over 15 minutes on CPU, on Ignite too"
    ),
    "tests/integration/test_integration_bundle_run.py": (
        "MONAI's bundle command line in child processes (`coverage run -m monai.bundle`, needs coverage and fire): "
        "~200 CPU s, half as much again as the rest; 3 of its 5 tests pass on Ignite (2 use mlflow's file store), "
        "and on cadence"
    ),
}
MONAI_LEFT_OUT_TESTS = {
    "tests/bundle/test_bundle_workflow.py::TestBundleWorkflow::test_create_pythonic_workflow": (
        "no Ignite in it (a PythonicWorkflow runs its inferer in plain torch) and ~110 s of CPU inference"
    ),
    "tests/bundle/test_bundle_workflow.py::TestBundleWorkflow::test_pythonic_workflow": (
        "no Ignite in it (a PythonicWorkflow runs its inferer in plain torch) and ~35 s of CPU inference"
    ),
}


def prepare_monai(work: Path) -> Selection:
    if not (MONAI_TESTS / "tests" / "test_utils.py").exists():
        raise SystemExit(f"compat-ecosystem: MONAI's tests are missing: {MONAI_TESTS}/tests")
    copy_tree(MONAI_TESTS / "tests", work / "tests")
    selection = Selection(files=[], left_out_tests=dict(MONAI_LEFT_OUT_TESTS))
    for path in sorted((work / "tests").rglob("test_*.py")):
        rel = path.relative_to(work).as_posix()
        if not rel.startswith(MONAI_ALWAYS) and not IGNITE_FACING.search(path.read_text()):
            continue
        if rel in MONAI_LEFT_OUT_FILES:
            selection.left_out_files[rel] = MONAI_LEFT_OUT_FILES[rel]
        else:
            selection.files.append(rel)
    return selection


# -------------------------------------------------------------------------------------- optuna-integration

# optuna-integration's source distributions ship its Ignite test up to 3.6.0 only (4.0.0 to 5.0.0 ship
# tests/test_samplers.py alone); that test is unchanged since, so it runs against the installed release.
OPTUNA_SDIST_VERSION = "3.6.0"
OPTUNA_SDIST = f"optuna-integration-{OPTUNA_SDIST_VERSION}"
OPTUNA_TESTS = ("tests/test_pytorch_ignite.py",)


def prepare_optuna(work: Path) -> Selection:
    archive = CACHE / f"{OPTUNA_SDIST}.tar.gz"
    if not archive.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"),
                f"optuna-integration=={OPTUNA_SDIST_VERSION}",
                *("-d", str(CACHE)),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.removeprefix(f"{OPTUNA_SDIST}/") in OPTUNA_TESTS]
        for member in members:
            member.name = member.name.removeprefix(f"{OPTUNA_SDIST}/")
        tar.extractall(work, members=members, filter="data")
    return Selection(files=[m.name for m in members])


LIBRARIES = (
    Library("monai", "monai", prepare_monai, parallel=True),
    Library("optuna-integration", "optuna-integration", prepare_optuna, parallel=False),
)

# --------------------------------------------------------------------------------------------------- running

PYTEST_INI = """[pytest]
addopts = -p no:cacheprovider -p no:randomly -v
"""
# A pytest plugin written into the work folder (``-p ecosystem_probe``): each pytest process records where
# its ``ignite`` came from. (Not this folder on the path: compat/ignite, make compat's stand-in, would shadow
# pytorch-ignite.)
PROBE = f"""import os, sys


def pytest_unconfigure(config):
    folder, module = os.environ.get("{PROBE_ENV}"), sys.modules.get("ignite")
    if folder and module is not None:
        with open(os.path.join(folder, str(os.getpid())), "w") as file:
            file.write(str(getattr(module, "__file__", None)))
"""


def copy_tree(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination``, every file and folder writable (the tests write beside themselves)."""
    shutil.copytree(source, destination, copy_function=shutil.copyfile, ignore=shutil.ignore_patterns("__pycache__"))
    for folder, _, _ in os.walk(destination):
        os.chmod(folder, 0o755)


def run_side(
    library: Library, target: str, selection: Selection, work: Path, jobs: int
) -> tuple[Outcomes, tuple[float, float], list[str]]:
    """Run the selection in ``work`` against ``target``.

    Returns the outcomes per file, the wall and CPU seconds, and the files run again alone: one pytest
    process runs them all (``jobs`` xdist workers); when its report lacks a file (a crash or a timeout lost
    it), that file runs again in a process of its own, ``jobs`` such processes at a time.
    """
    probes = work / ".probes"
    probes.mkdir()
    (work / "pytest.ini").write_text(PYTEST_INI)
    (work / "ecosystem_probe.py").write_text(PROBE)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **{PROBE_ENV: str(probes)})
    env["PYTHONPATH"] = str(work)  # tests.* imports, in spawned ranks too; the probe
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "QUICKTEST"):
        env.pop(name, None)
    command = [sys.executable, "-m", "pytest", "-p", "ecosystem_probe", f"--timeout={TEST_TIMEOUT_S}"]
    if target == "cadence":
        command += ["-p", "cadence.as_ignite"]
    command += [f"--deselect={test}" for test in selection.left_out_tests]
    results = CACHE / "results" / library.name / target
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)

    def run(rels: list[str], name: str, workers: int) -> Outcomes:
        out = results / f"{name}.xml"
        parallel = ["-n", str(workers), "--dist", "loadfile"] if workers > 1 else []  # a file's tests: one worker
        with (results / f"{name}.log").open("w") as log, contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                [*command, f"--junitxml={out}", *parallel, *rels],
                cwd=work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=RUN_TIMEOUT_S,
            )
        return parse_junit(out, rels, work)

    start, cpu = time.monotonic(), _children_cpu()
    found = run(selection.files, "all", jobs if library.parallel else 1)
    again = [rel for rel in selection.files if not found.get(rel)]
    with ThreadPoolExecutor(jobs) as pool:
        for outcomes in pool.map(lambda rel: run([rel], rel.replace("/", "__"), 1), again):
            found.update(outcomes)
    times = (time.monotonic() - start, _children_cpu() - cpu)
    check_probes(probes, target, results)
    return found, times, again


def _children_cpu() -> float:
    """CPU seconds (user and system) of the processes this one started and waited for, theirs included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_probes(probes: Path, target: str, logs: Path) -> None:
    """Every pytest process that imported ``ignite`` imported the one meant: cadence's or pytorch-ignite."""
    origins = {path.read_text() for path in probes.iterdir()}
    if not origins:
        raise SystemExit(f"compat-ecosystem: no test process of the {target} run imported ignite; see {logs}")
    from cadence.as_ignite import IGNITE_PATH

    for origin in origins:
        ours = Path(origin).resolve().parent.parent == Path(IGNITE_PATH)
        if ours != (target == "cadence"):
            raise SystemExit(f"compat-ecosystem: the {target} run imported ignite from {origin}")


def parse_junit(path: Path, rels: list[str], work: Path) -> Outcomes:
    """Read a JUnit report: for each of ``rels``, its test ids (``Class::name`` or ``name``) and outcomes.

    A parameterized test whose parameter is a path has the work folder in its name: it reads ``_WORK`` there.
    """
    folder = re.sub(r"[^a-zA-Z0-9_]+", "_", str(work))
    modules = {rel.removesuffix(".py").replace("/", "."): rel for rel in rels}
    found: Outcomes = {rel: {} for rel in rels}
    if not path.exists():
        return found
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except ET.ParseError:  # a report cut short
        return found
    for case in cases:
        classname, name = case.get("classname", ""), case.get("name", "").replace(folder, "_WORK")
        module = next((m for m in modules if classname == m or classname.startswith(m + ".")), None)
        if module is None:
            continue
        klass = classname[len(module) + 1 :]
        test_id = f"{klass}::{name}" if klass else name
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", summary(child)
            elif child.tag == "skipped" and outcome == "passed":
                outcome, message = "skipped", child.get("message", "")
        previous = found[modules[module]].get(test_id)
        if previous is None or _RANK[outcome] > _RANK[previous[0]]:
            found[modules[module]][test_id] = [outcome, message.strip()]
    return found


def summary(failure: ET.Element, lines: int = 6) -> str:
    """The essential lines of a failure: its ``E`` lines (the exception) and where it was raised."""
    text = failure.text or failure.get("message") or ""
    kept = [line for line in text.splitlines() if line.startswith("E ") and line[1:].strip()]
    if len(kept) > lines:  # the exception's first line, and its last ones (a child process's error ends there)
        kept = [*kept[:2], "E   ...", *kept[2 - lines :]]
    where = [line for line in text.splitlines() if re.match(r"^\S+\.py:\d+: \w", line)]
    essential = kept + where[-2:]
    return "\n".join(essential) if essential else "\n".join(text.splitlines()[-lines:])


# -------------------------------------------------------------------------------------------------- counting


def counted_tests(baseline: Outcomes) -> dict[str, list[str]]:
    """For each file, the tests that passed on Ignite (the ones that count)."""
    return {
        rel: sorted(t for t, (outcome, _) in tests.items() if outcome == "passed") for rel, tests in baseline.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run only the test files whose 'library:path' contains this")
    parser.add_argument("--skip-baseline", action="store_true", help="run cadence's side only (see above)")
    parser.add_argument("--raise-floor", action="store_true", help="record the figures reached in the floor file")
    parser.add_argument("--jobs", type=int, default=2, help="pytest-xdist workers per run (2)")
    args = parser.parse_args()

    floor = json.loads(FLOOR.read_text()) if FLOOR.exists() else {}
    baseline_cache = CACHE / "baseline.json"
    cached = json.loads(baseline_cache.read_text()) if baseline_cache.exists() else {}
    reports, status, fresh = [], 0, {}
    for library in LIBRARIES:
        with tempfile.TemporaryDirectory(prefix=f"cadence-ecosystem-{library.name}-") as temp:
            result = measure(library, Path(temp), args, floor.get(library.name, {}), cached.get(library.name))
        if result is None:
            continue
        report, totals, baseline_source, baseline = result
        reports.append(report)
        if baseline_source == "run":
            fresh[library.name] = baseline
        if not args.only:
            status |= check_floor(library.name, totals, floor, args.raise_floor, baseline)
    if fresh and not args.only:
        baseline_cache.write_text(json.dumps({**cached, **fresh}, indent=1, sort_keys=True))
    text = "\n".join(reports)
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "report.md").write_text(text)
    print(text)
    if args.raise_floor and status == 0 and not args.only:
        FLOOR.write_text(json.dumps(floor, indent=2) + "\n")
        print(f"floor raised: {FLOOR}")
    return status


def measure(
    library: Library, temp: Path, args: argparse.Namespace, record: dict[str, Any], cached: Outcomes | None
) -> tuple[str, tuple[int, int], str, Outcomes] | None:
    """Run one library's selection on both sides (or cadence's only); return its report and totals."""
    version = importlib.metadata.version(library.distribution)
    works = {target: temp / target for target in TARGETS}
    for work in works.values():
        work.mkdir()
        selection = library.prepare(work)
    if args.only:
        selection.files = [rel for rel in selection.files if args.only in f"{library.name}:{rel}"]
        if not selection.files:
            return None

    walls: dict[str, tuple[float, float]] = {}
    alone: dict[str, list[str]] = {}
    if args.skip_baseline and cached is not None:
        baseline, source = cached, "the last full run (.compat/ecosystem/baseline.json)"
    elif args.skip_baseline and record.get("ignite_passing"):
        baseline = {rel: {t: ["passed", ""] for t in tests} for rel, tests in record["ignite_passing"].items()}
        source = f"the tests that passed on Ignite when {FLOOR.name} was recorded"
    else:
        baseline, walls["ignite"], alone["ignite"] = run_side(library, "ignite", selection, works["ignite"], args.jobs)
        source = "run"
    ours, walls["cadence"], alone["cadence"] = run_side(library, "cadence", selection, works["cadence"], args.jobs)
    report, totals = render(library, version, selection, baseline, ours, walls, alone, source)
    return report, totals, source, baseline


def render(
    library: Library,
    version: str,
    selection: Selection,
    baseline: Outcomes,
    ours: Outcomes,
    walls: dict[str, tuple[float, float]],
    alone: dict[str, list[str]],
    source: str,
) -> tuple[str, tuple[int, int]]:
    counted = counted_tests(baseline)
    lines = [f"## {library.name} {version}", ""]
    lines += [f"| {library.name} test file | passed on cadence / passed on Ignite | not passing on Ignite |"]
    lines += ["|---|---|---|"]
    total_passed = total_counted = 0
    failures: dict[str, list[str]] = {}
    not_counted: list[str] = []
    for rel in selection.files:
        tests = counted.get(rel, [])
        passed = [t for t in tests if ours.get(rel, {}).get(t, ["missing"])[0] == "passed"]
        failures[rel] = [t for t in tests if t not in passed]
        left = {t: o for t, o in baseline.get(rel, {}).items() if o[0] != "passed"}
        lines.append(f"| `{rel}` | {len(passed)} of {len(tests)} | {len(left)} |")
        total_passed += len(passed)
        total_counted += len(tests)
        for test, (outcome, message) in sorted(left.items()):
            errors = [line for line in message.splitlines() if re.search(r"\w(Error|Exception):", line)]
            why = (errors or message.splitlines() or [""])[-1].removeprefix("E").strip()
            not_counted.append(f"- `{rel}::{test}`: {outcome} on Ignite: {why[:200]}")
        if not tests and not left:
            not_counted.append(f"- `{rel}`: no test of it passed on Ignite")
    share = 100.0 * total_passed / total_counted if total_counted else 100.0
    lines.append(f"| **total** | **{total_passed} of {total_counted} ({share:.1f}%)** | |")
    lines += [""]
    walls_text = ", ".join(f"{target} {wall:.0f} s ({cpu:.0f} CPU s)" for target, (wall, cpu) in walls.items())
    baseline_text = "" if source == "run" else f" (Ignite's side not run: the baseline is {source})"
    lines += [f"Wall time: {walls_text}{baseline_text}.", ""]
    for target, rels in alone.items():
        if rels:
            lines += [
                f"Run again alone on {target}, the report of the run of all having lost them: {', '.join(rels)}",
                "",
            ]
    if selection.left_out_files or selection.left_out_tests:
        lines += ["Left out of the selection:"]
        for rel, why in {**selection.left_out_files, **selection.left_out_tests}.items():
            lines.append(f"- `{rel}`: {why}")
        lines += [""]
    if not_counted:
        lines += ["Not counted (not passing on Ignite):", *not_counted, ""]
    lines += ["Counted tests failing on cadence:"]
    for rel, tests in failures.items():
        for test in tests:
            outcome, message = ours.get(rel, {}).get(test, ["missing", "did not run (a crash or a timeout?)"])
            lines.append(f"- `{rel}::{test}` ({outcome})")
            lines += [f"      {line}" for line in message.splitlines()]
    return "\n".join(lines) + "\n", (total_passed, total_counted)


def check_floor(
    name: str, totals: tuple[int, int], floor: dict[str, Any], raise_floor: bool, baseline: Outcomes
) -> int:
    """Fail when a library has more failing counted tests than recorded, or fewer passing ones.

    A test that no longer passes on Ignite on this run's machine is not counted, so it cannot count as a
    pass either: the passes are compared after allowing for the counted tests that dropped out.
    """
    passed, counted = totals
    record = floor.get(name)
    status = 0
    if record is not None:
        failing, dropped = counted - passed, max(0, record["counted"] - counted)
        if failing > record["failing"] or passed + dropped < record["passed"]:
            print(
                f"make compat-ecosystem: {name} fell to {passed} of {counted} counted tests ({failing} failing); "
                f"{FLOOR.name} records {record['passed']} of {record['counted']} ({record['failing']} failing)."
            )
            status = 1
    if raise_floor and status == 0:
        floor[name] = {
            "passed": passed,
            "counted": counted,
            "failing": counted - passed,
            "ignite_passing": {rel: tests for rel, tests in counted_tests(baseline).items() if tests},
        }
    return status


if __name__ == "__main__":
    sys.exit(main())

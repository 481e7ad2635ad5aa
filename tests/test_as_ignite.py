"""The switch that serves ``ignite`` from cadence (``cadence.as_ignite``), used as a program would use it:
each case runs in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import cadence
from cadence.as_ignite import IGNITE_PATH, main

SRC = str(Path(cadence.__file__).resolve().parent.parent)

SCRIPT = """
import sys
import ignite
import ignite.engine
import cadence.engine
from ignite.handlers import Checkpoint
import cadence.handlers
print("version", ignite.__version__)
print("identity", ignite.engine.Engine is cadence.engine.Engine, Checkpoint is cadence.handlers.Checkpoint)
print("subpackage", ignite.metrics.Accuracy.__module__)
try:
    from ignite.engine import NoSuchName
except ImportError as error:
    print("missing name", type(error).__name__)
try:
    import ignite.no_such_module
except ModuleNotFoundError as error:
    print("missing module", error.name)
real = [name for name, module in sys.modules.items()
        if name.split(".")[0] == "ignite" and "site-packages" in str(getattr(module, "__file__", ""))]
print("real modules", real)
"""


def python(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=environment, cwd=cwd, timeout=120, check=False
    )


def check_served(output: str) -> None:
    assert "version 0.5.5" in output
    assert "identity True True" in output
    assert "subpackage cadence.metrics.classification" in output
    assert "missing name ImportError" in output
    assert "missing module ignite.no_such_module" in output
    assert "real modules []" in output


def test_an_unchanged_script_runs_on_cadence_while_pytorch_ignite_is_installed(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    done = python("-m", "cadence.as_ignite", str(tmp_path / "train.py"))
    assert done.returncode == 0, done.stderr
    check_served(done.stdout)
    assert "the installed pytorch-ignite" in done.stderr and "is never imported" in done.stderr


def test_without_pytorch_ignite_installed(tmp_path: Path) -> None:
    """site-packages seen through a folder of links that leaves pytorch-ignite out (``-S``: no site hooks)."""
    site = Path(sysconfig.get_paths()["purelib"])
    view = tmp_path / "site"
    view.mkdir()
    for entry in site.iterdir():
        if entry.name != "ignite" and not entry.name.startswith("pytorch_ignite"):
            (view / entry.name).symlink_to(entry)
    (tmp_path / "train.py").write_text(SCRIPT)
    plain = python("-S", "-c", "import ignite", env={"PYTHONPATH": f"{SRC}{os.pathsep}{view}"})
    assert "No module named 'ignite'" in plain.stderr  # the view really has no Ignite
    done = python(
        "-S", "-m", "cadence.as_ignite", str(tmp_path / "train.py"), env={"PYTHONPATH": f"{SRC}{os.pathsep}{view}"}
    )
    assert done.returncode == 0, done.stderr
    check_served(done.stdout)
    assert "pytorch-ignite" not in done.stderr  # nothing to warn about


def test_install_at_program_start_twice_and_the_arguments_of_a_module(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(
        "import sys, warnings\n"
        "import cadence.as_ignite as switch\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    switch.install()\n"
        "    switch.install()\n"
        "print('warnings', len(caught), switch.is_installed())\n" + SCRIPT
    )
    done = python(str(tmp_path / "job.py"))
    assert done.returncode == 0, done.stderr
    assert "warnings 1 True" in done.stdout  # the second call changes nothing and says nothing
    check_served(done.stdout)
    module = python(
        "-m",
        "cadence.as_ignite",
        "-m",
        "job",
        "a",
        "--b",
        cwd=tmp_path,
        env={"PYTHONPATH": f"{SRC}{os.pathsep}{tmp_path}"},
    )
    assert module.returncode == 0, module.stderr
    check_served(module.stdout)


def test_turning_it_on_after_ignite_was_imported_is_an_error() -> None:
    done = python("-c", "import ignite.engine, cadence.as_ignite; cadence.as_ignite.install()")
    assert done.returncode == 1
    assert "Ignite itself was imported already" in done.stderr
    assert "before anything imports ignite" in done.stderr


def test_child_processes_are_served_too(tmp_path: Path) -> None:
    (tmp_path / "parent.py").write_text(
        textwrap.dedent(
            """
            import multiprocessing, subprocess, sys
            import ignite.engine

            def where(queue):
                import ignite.engine
                queue.put(ignite.engine.Engine.__module__)

            if __name__ == "__main__":
                context = multiprocessing.get_context("spawn")
                queue = context.Queue()
                child = context.Process(target=where, args=(queue,))
                child.start()
                print("spawned", queue.get(timeout=60))
                child.join()
                command = "import ignite.engine; print(ignite.engine.Engine.__module__)"
                print("subprocess", subprocess.run([sys.executable, "-c", command], capture_output=True,
                                                   text=True, check=True).stdout.strip())
            """
        )
    )
    done = python("-m", "cadence.as_ignite", str(tmp_path / "parent.py"))
    assert done.returncode == 0, done.stderr
    assert "spawned cadence.engine.engine" in done.stdout
    assert "subprocess cadence.engine.engine" in done.stdout


def test_a_pytest_run_with_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_uses_ignite.py").write_text(
        "import ignite.engine, cadence.engine\n"
        "def test_it():\n"
        "    assert ignite.engine.Engine is cadence.engine.Engine\n"
    )
    done = python(
        "-m", "pytest", "-p", "cadence.as_ignite", "-q", "-p", "no:cacheprovider", str(tmp_path), cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_cadence_subpackages_are_reachable_in_a_fresh_interpreter() -> None:
    done = python(
        "-c", "import cadence; print(cadence.distributed.get_world_size(), cadence.handlers.Checkpoint.__name__)"
    )
    assert done.stdout.split() == ["1", "Checkpoint"], done.stderr
    missing = python("-c", "import cadence; cadence.no_such_subpackage")
    assert "module 'cadence' has no attribute 'no_such_subpackage'" in missing.stderr


@pytest.mark.parametrize("argv", [[], ["-m"], ["--help"]])
def test_the_command_says_how_to_use_it(argv: list[str]) -> None:
    with pytest.raises(SystemExit, match=r"usage: python -m cadence\.as_ignite"):
        main(argv)


def test_the_path_it_prints_holds_the_ignite_package(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--path"])
    printed = capsys.readouterr().out.strip()
    assert printed == IGNITE_PATH and (Path(printed) / "ignite" / "__init__.py").is_file()

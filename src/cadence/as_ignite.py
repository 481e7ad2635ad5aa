"""Serve the ``ignite`` package from cadence, for programs and libraries that import ``ignite`` themselves.

A library built on Ignite (MONAI, optuna-integration...) imports ``ignite`` in its own code, which its
users cannot edit. With the switch on, ``import ignite.X`` gives the module ``cadence.X`` itself (so
``ignite.engine.Engine is cadence.engine.Engine``), a name cadence lacks there fails as it would in
Ignite, ``ignite.__version__`` is the Ignite version whose API cadence provides, and an installed
pytorch-ignite is never imported. Three ways to turn it on:

* ``python -m cadence.as_ignite train.py --epochs 3`` (or ``-m package.module``): run an unchanged program;
* ``cadence.as_ignite.install()`` at the top of the program, before anything imports ``ignite``;
* ``pytest -p cadence.as_ignite``: a test run;

and, where the command cannot change (a launcher, a notebook kernel), put the folder that
``python -m cadence.as_ignite --path`` prints first on ``PYTHONPATH``.

Child processes inherit the switch: :func:`install` puts that folder first on ``sys.path`` (which
``multiprocessing``'s spawned children copy) and on ``PYTHONPATH`` (which torchrun's workers and other
subprocesses read).

Example:
    >>> import cadence.as_ignite
    >>> cadence.as_ignite.IGNITE_VERSION
    '0.5.5'
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["IGNITE_VERSION", "install", "is_installed", "main"]

#: The version of Ignite whose public API cadence provides (``ignite.__version__`` while the switch is on).
IGNITE_VERSION = "0.5.5"
#: The folder that holds cadence's ``ignite`` package; first on ``sys.path`` while the switch is on.
IGNITE_PATH = str(Path(__file__).resolve().parent / "_ignite_path")

# What ``import ignite`` makes reachable in Ignite 0.5.5: its __init__ imports these subpackages (and they
# import ``ignite.base``).
_SUBPACKAGES = frozenset({"base", "contrib", "distributed", "engine", "exceptions", "handlers", "metrics", "utils"})
_PREFIX = "ignite."


class _AliasLoader(importlib.abc.Loader):
    """Loads ``ignite.X`` as the already imported module ``cadence.X`` (the same object)."""

    def __init__(self, target: ModuleType) -> None:
        self._target = target
        self._spec = target.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._target

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._spec  # the import system stamped the alias's spec on it: give cadence's back


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``ignite.X`` as ``cadence.X``; a module cadence does not have is not found (no searching elsewhere)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        try:
            module = importlib.import_module("cadence." + fullname[len(_PREFIX) :])
        except ModuleNotFoundError as error:
            if error.name is not None and error.name.startswith("cadence."):
                raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname) from None
            raise
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=hasattr(module, "__path__"))


def _lazy_subpackage(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        return importlib.import_module(_PREFIX + name)
    raise AttributeError(f"module 'ignite' has no attribute {name!r}")


def serve(package: str) -> None:
    """Make the module ``package`` (cadence's ``ignite/__init__.py``) serve cadence's modules as ``ignite.X``."""
    module = sys.modules[package]
    module.__version__ = IGNITE_VERSION  # type: ignore[attr-defined]  # a module attribute set at run time
    module.__getattr__ = _lazy_subpackage  # type: ignore[method-assign]  # PEP 562: subpackages on first use
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


def is_installed() -> bool:
    """Whether ``ignite`` is served by cadence in this process (it was imported from cadence's folder).

    Example:
        >>> is_installed() in (True, False)
        True
    """
    module = sys.modules.get("ignite")
    return module is not None and _is_ours(module)


def _is_ours(module: ModuleType) -> bool:
    origin = getattr(module, "__file__", None)
    return origin is not None and Path(origin).resolve().parent.parent == Path(IGNITE_PATH)


def _real_ignite() -> str | None:
    """Where an installed pytorch-ignite lies (outside cadence's folder), if there is one."""
    path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(IGNITE_PATH)]
    spec = importlib.machinery.PathFinder.find_spec("ignite", path)
    return None if spec is None else str(spec.origin)


def install() -> None:
    """Turn the switch on in this process and in the processes it starts; a second call does nothing.

    Raises ``RuntimeError`` when Pytorch-Ignite itself was imported already (two ``Engine`` classes would
    then live side by side); warns once when pytorch-ignite is installed, saying that it is never imported.

    Example:
        >>> install()  # doctest: +SKIP
        >>> import ignite.engine, cadence.engine  # doctest: +SKIP
        >>> ignite.engine.Engine is cadence.engine.Engine  # doctest: +SKIP
        True
    """
    loaded = sys.modules.get("ignite")
    if loaded is not None and not _is_ours(loaded):
        raise RuntimeError(
            f"Ignite itself was imported already (from {getattr(loaded, '__file__', None)}), so cadence cannot "
            "serve 'ignite' any more without mixing two Engine classes: call cadence.as_ignite.install() "
            "before anything imports ignite, or run the program with `python -m cadence.as_ignite program.py`."
        )
    if sys.path[:1] != [IGNITE_PATH]:
        sys.path[:] = [IGNITE_PATH, *(entry for entry in sys.path if entry != IGNITE_PATH)]
    existing = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    if existing[:1] != [IGNITE_PATH]:
        os.environ["PYTHONPATH"] = os.pathsep.join([IGNITE_PATH, *(e for e in existing if e != IGNITE_PATH)])
    if loaded is None:
        real = _real_ignite()
        if real is not None:
            warnings.warn(
                f"cadence serves 'ignite' in this process: the installed pytorch-ignite ({real}) is never imported.",
                stacklevel=2,
            )
    importlib.import_module("ignite")


def pytest_configure(config: object) -> None:
    """``pytest -p cadence.as_ignite``: the switch is on before pytest imports any test module."""
    install()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m cadence.as_ignite program.py [args]`` or ``-m module [args]``: run it with the switch on.

    ``--path`` prints the folder to put first on ``PYTHONPATH`` instead.

    Example:
        >>> main(["--path"])  # doctest: +ELLIPSIS
        /.../_ignite_path
    """
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m cadence.as_ignite (program.py | -m module | --path) [arguments...]"
    if args[:1] == ["--path"]:
        print(IGNITE_PATH)
        return
    if not args or args[0] in ("-h", "--help") or (args[0] == "-m" and len(args) < 2):
        raise SystemExit(usage)
    install()
    if args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        sys.path[1:1] = [str(Path(args[0]).resolve().parent)]  # as `python program.py` puts its folder first
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()

"""A stand-in for the ``ignite`` package that serves cadence's modules under Ignite's names.

It contains no Ignite code. ``import ignite.X.Y`` returns the module ``cadence.X.Y`` itself (the same
object, so classes and module state are shared), which is exactly what a user gets after renaming
``ignite`` to ``cadence`` in their import lines. ``make compat`` puts this folder first on the path to
run Ignite's own test suite against cadence.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType

import cadence

_PREFIX = "ignite."


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: ModuleType) -> None:
        self._target = target
        self._spec = target.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._target

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped the alias's spec on the module; give cadence's own back.
        module.__spec__ = self._spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        try:
            module = importlib.import_module("cadence." + fullname[len(_PREFIX) :])
        except ModuleNotFoundError as error:
            if error.name is not None and error.name.startswith("cadence."):
                return None  # no such module in cadence: let the import fail as a missing module
            raise
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=is_package)


sys.meta_path.insert(0, _AliasFinder())

__version__ = cadence.__version__
# Submodules come through the finder above (it runs before the path finders); the folder is only where
# scripts that look for Ignite's location (``ignite.__path__[0]``) find this package.
__path__ = [os.path.dirname(os.path.abspath(__file__))]
_STAND_IN = True


def __getattr__(name: str) -> object:
    return getattr(cadence, name)

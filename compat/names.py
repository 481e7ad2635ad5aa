"""List the public names of Ignite 0.5.5's covered modules that cadence lacks at the same import path.

Usage: ``python compat/names.py`` (needs pytorch-ignite installed, as in the dev requirements).
A public name is one in the module's ``__all__``, or, without ``__all__``, a name without a leading
underscore that the module defines or imports from ignite (not a module object).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import types
import warnings

# This script lives beside the stand-in `ignite`; the real package must be the one imported here.
sys.path[:] = [p for p in sys.path if not p.endswith("compat")]

PACKAGES = [
    "ignite.engine",
    "ignite.handlers",
    "ignite.contrib.handlers",
    "ignite.contrib.engines",
    "ignite.utils",
    "ignite.base",
    "ignite.distributed",
    "ignite.exceptions",
    "ignite.metrics",
    "ignite.contrib.metrics",
]
SKIP = ("ignite.distributed.comp_models.horovod", "ignite.distributed.comp_models.xla")


def modules() -> list[str]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        if hasattr(module, "__path__"):
            for info in pkgutil.walk_packages(module.__path__, package + "."):
                if not any(part.startswith("_") for part in info.name.split(".")) and not info.name.startswith(SKIP):
                    names.append(info.name)
    return names


def public_names(module: types.ModuleType) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    out = []
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", None) or ""
        if origin.startswith("ignite"):
            out.append(name)
    return out


def main() -> int:
    warnings.simplefilter("ignore")
    missing, total = [], 0
    for name in modules():
        try:
            module = importlib.import_module(name)
        except Exception:  # an optional dependency of Ignite's is missing here
            continue
        target = "cadence" + name[len("ignite") :]
        try:
            ours = importlib.import_module(target)
        except ImportError:
            ours = None
        for public in public_names(module):
            total += 1
            if ours is None or not hasattr(ours, public):
                missing.append(f"{target}.{public}")
    print("\n".join(missing))
    print(f"{total - len(missing)} of {total} public names present", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

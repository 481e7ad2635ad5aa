"""The table of Ignite's import paths (``docs/api/ignite-paths.rst``): each public name of Ignite 0.5.5 at each
of its import paths, and the cadence object that ``cadence.<the same path>`` gives.

The names are listed in ``docs/ignite_names.txt``, one dotted path a line: what ``compat/names.py`` finds
walking pytorch-ignite 0.5.5's modules (``__all__``, or what a module without one defines or imports from
ignite). Ignite 0.5.5 is a fixed release, so the list is committed and the docs build without Ignite;
``python docs/ignite_paths.py`` writes it again from the installed Ignite, ``--check`` compares (the tests do).
``docs/gen_api.py`` writes the page at every build.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import types
import warnings
from pathlib import Path

HERE = Path(__file__).parent
NAMES = HERE / "ignite_names.txt"
COMPAT = HERE.parent / "compat"

INTRO = """\
Ignite's import paths
=====================

Every public name of Ignite 0.5.5, at every import path Ignite has it ({count} names in {modules} modules),
is importable from the same path with ``ignite`` renamed ``cadence``. The table gives, for each, the cadence
object it is: the module that defines it and its qualified name, linked to its page (a constant is shown
by its documented path). Several paths often give one object: Ignite's modules re-export each other's
names, and cadence serves its ``contrib`` paths and its split modules from its own layout (see
:doc:`../guides/compatibility` and :doc:`../guides/code-layout`).
"""


def ignite_names() -> list[str]:
    """The dotted paths of Ignite 0.5.5's public names, as committed."""
    return NAMES.read_text(encoding="utf-8").split()


def _kind(value: object) -> str:
    if isinstance(value, types.ModuleType):
        return "module"
    if inspect.isclass(value):
        return "exception" if issubclass(value, BaseException) else "class"
    if inspect.isroutine(value):
        return "function"
    return "constant"


def _cell(value: object, documented: str) -> str:
    """The cadence object, by where it is defined, linked to where it is documented."""
    if isinstance(value, types.ModuleType):
        return f":py:mod:`{value.__name__}`"
    if inspect.isclass(value) or inspect.isroutine(value):
        return f":py:obj:`{value.__module__}.{value.__qualname__} <{documented}>`"
    return f":py:obj:`{documented}`"


def page(aliases: dict[str, str], objects: dict[str, object]) -> str:
    """The page's reStructuredText; ``aliases`` maps each public path to its documented path, whose object
    ``objects`` holds. A path Ignite has that no ``__all__`` of cadence lists (Ignite's modules export what
    they import) is documented where the same object, or a constant of the same name and value, is."""
    names = ignite_names()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ignite's deprecated contrib paths warn when imported
        for ignite_path in names:
            path = "cadence" + ignite_path.removeprefix("ignite")
            module, name = path.rsplit(".", 1)
            value = getattr(importlib.import_module(module), name)
            documented = aliases.get(path) or next(
                (p for p, v in objects.items() if v is value and (_kind(v) != "constant" or p.endswith(f".{name}"))),
                path,
            )
            rows.append(f"   * - ``{path}``\n     - {_cell(value, documented)}\n     - {_kind(value)}")
    count = len({n.rsplit(".", 1)[0] for n in names})
    header = "   * - Ignite's path, under ``cadence``\n     - the cadence object\n     - kind"
    table = ".. list-table::\n   :header-rows: 1\n   :widths: 45 45 10\n\n" + "\n".join([header, *rows])
    return f"{INTRO.format(count=len(names), modules=count)}\n{table}\n"


def walk_ignite() -> list[str]:
    """Ignite's public names as ``compat/names.py`` finds them, in a process of their own (it imports Ignite)."""
    script = (
        "import importlib, sys, warnings\n"
        f"sys.path.insert(0, {str(COMPAT)!r})\n"
        "import names\n"
        "warnings.simplefilter('ignore')\n"
        "for m in names.modules():\n"
        "    for n in names.public_names(importlib.import_module(m)):\n"
        "        print(f'{m}.{n}')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return sorted(done.stdout.split())


if __name__ == "__main__":
    walked = walk_ignite()
    if sys.argv[1:] == ["--check"]:
        committed = ignite_names()
        for sign, extra in (("-", set(committed) - set(walked)), ("+", set(walked) - set(committed))):
            print("".join(f"{sign} {name}\n" for name in sorted(extra)), end="")
        sys.exit(0 if committed == walked else 1)
    NAMES.write_text("".join(f"{n}\n" for n in walked), encoding="utf-8")
    print(f"{len(walked)} names written to {NAMES}", file=sys.stderr)

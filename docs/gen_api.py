"""Write the API reference sources (``docs/api/``): one page per public object, one listing per public module.

A public module is any module of ``cadence`` without a leading underscore in its dotted path (Ignite's
import paths included); its public names are its ``__all__``. An object re-exported at several paths
gets one page, under its shortest path (ties go to the path inside the module that defines it); every
other path's listing links to that page, and ``conf.py`` declares its other paths to Sphinx as aliases of
that one, so that a cross reference may use any of them. Also the table of Ignite's import paths
(``docs/ignite_paths.py``).

Run by ``docs/conf.py`` at every build (``make docs``); also ``python docs/gen_api.py`` to inspect the output.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import pkgutil
import sys
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import ignite_paths

API = Path(__file__).parent / "api"
DEMO = "cadence.examples"  # the demo's script (the getting-started guide shows it), not an API


@dataclass
class Entry:
    """One public object and every path it is importable from."""

    value: object
    paths: list[str] = field(default_factory=list)

    @property
    def canonical(self) -> str:
        origin = getattr(self.value, "__module__", None) or ""

        def rank(path: str) -> tuple[int, bool, str]:
            module = path.rsplit(".", 1)[0]
            return (path.count("."), not origin.startswith(module), path)

        return min(self.paths, key=rank)


def public_modules() -> list[str]:
    """Every importable public module of cadence, sorted."""
    import cadence

    names = ["cadence"]
    for info in pkgutil.walk_packages(cadence.__path__, "cadence."):
        if not any(part.startswith("_") for part in info.name.split(".")) and not info.name.startswith(DEMO):
            names.append(info.name)
    return sorted(names)


def is_object(value: object) -> bool:
    """Classes and functions are the same object at each path; other values are known by name."""
    return inspect.isclass(value) or inspect.isroutine(value)


def collect() -> tuple[dict[str, list[str]], dict[str, Entry]]:
    """Return each module's public names, and the entries keyed by their identity."""
    listings: dict[str, list[str]] = {}
    entries: dict[str, Entry] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ignite's deprecated contrib paths warn when imported
        for module_name in public_modules():
            module = importlib.import_module(module_name)
            names = list(getattr(module, "__all__", []))
            listings[module_name] = names
            for name in names:
                value = getattr(module, name)
                if isinstance(value, types.ModuleType):
                    continue
                key = f"id:{id(value)}" if is_object(value) else f"value:{name}:{id(value)}"
                entries.setdefault(key, Entry(value)).paths.append(f"{module_name}.{name}")
    return listings, entries


def _title(text: str) -> str:
    return f"{text}\n{'=' * len(text)}\n"


def _directive(entry: Entry) -> str:
    value, path = entry.value, entry.canonical
    if inspect.isclass(value):
        undocumented = "   :undoc-members:\n" if issubclass(value, enum.Enum) else ""  # list every member
        return f".. autoclass:: {path}\n   :members:\n{undocumented}   :show-inheritance:\n"
    if inspect.isroutine(value):
        return f".. autofunction:: {path}\n"
    # Not autodata: a constant has no docstring of its own (autodata would show its type's, e.g. bool's).
    doc = "".join(f"   {line}\n" if line else "\n" for line in _attribute_doc(entry))
    return f".. py:data:: {path}\n   :value: {value!r}\n\n{doc}"


def _attribute_doc(entry: Entry) -> list[str]:
    """The ``#:`` comment documenting a constant, in any module it is exported from."""
    from sphinx.errors import PycodeError
    from sphinx.pycode import ModuleAnalyzer

    for path in sorted(entry.paths):
        module, name = path.rsplit(".", 1)
        try:
            docs = ModuleAnalyzer.for_module(module).find_attr_docs()
        except PycodeError:
            continue
        if ("", name) in docs:
            return list(docs[("", name)])
    return []


def object_page(entry: Entry) -> str:
    path = entry.canonical
    others = sorted(p for p in entry.paths if p != path)
    modules = [p.rsplit(".", 1)[0] for p in [path, *others]]
    paths = ", ".join(f":mod:`{m}`" for m in modules)
    return "\n".join([_title(path.rsplit(".", 1)[1]), f"Importable from: {paths}.\n", _directive(entry)])


def module_page(name: str, names: list[str], submodules: list[str], pages: list[str]) -> str:
    lines = [_title(name), f".. automodule:: {name}\n"]
    values = {n: getattr(sys.modules[name], n) for n in names}
    objects = [n for n, value in values.items() if is_object(value)]
    constants = [n for n, value in values.items() if not is_object(value) and not isinstance(value, types.ModuleType)]
    modules = [n for n, value in values.items() if isinstance(value, types.ModuleType)]
    if objects or constants:
        lines.append("Public names\n------------\n")
    if objects:
        lines.append(".. autosummary::\n   :nosignatures:\n")
        lines.extend(f"   {n}" for n in objects)
        lines.append("")
    if constants:  # autosummary would describe a constant by its type's docstring (bool's...)
        lines.append("Constants: " + ", ".join(f":data:`{n}`" for n in constants) + ".\n")
    if modules:
        names_of = [getattr(sys.modules[name], n).__name__ for n in modules]
        lines.append("Modules re-exported here: " + ", ".join(f":mod:`{m}`" for m in names_of) + ".\n")
    if submodules:
        lines.append("Submodules\n----------\n")
        lines.append(".. toctree::\n   :maxdepth: 1\n")
        lines.extend(f"   {sub}" for sub in submodules)
        lines.append("")
    if pages:
        lines.append(".. toctree::\n   :hidden:\n")
        lines.extend(f"   ../{page}" for page in pages)
        lines.append("")
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    """Write only what changed, so that Sphinx rebuilds only those pages."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def generate() -> tuple[dict[str, str], dict[str, object]]:
    """Write docs/api/; return every public path of an object -> its documented path, and those objects."""
    listings, entries = collect()
    aliases: dict[str, str] = {}
    objects: dict[str, object] = {}
    pages_of: dict[str, list[str]] = {name: [] for name in listings}
    files: set[str] = set()
    for entry in sorted(entries.values(), key=lambda e: e.canonical):
        path = entry.canonical
        page = path
        while page.lower() in {f.lower() for f in files}:  # backend() and Backend: a file each on any disk
            page += "_"
        files.add(page)
        objects[path] = entry.value
        for alias in entry.paths:
            aliases[alias] = path
        pages_of[path.rsplit(".", 1)[0]].append(page)
        _write(API / f"{page}.rst", object_page(entry))
    for name, names in listings.items():
        children = sorted(m for m in listings if m.rsplit(".", 1)[0] == name and m != name)
        page = module_page(name, names, children, sorted(pages_of[name]))
        _write(API / "module" / f"{name}.rst", page)
    index = [
        _title("API reference"),
        "Every public module of cadence, with Ignite's import paths (``cadence.contrib``, and modules such as",
        "``cadence.handlers.param_scheduler``) beside cadence's own. Each module's page lists its public names",
        "(its ``__all__``); each object has one page, under its shortest import path, that every module",
        "exporting it links to. Also: the :ref:`index of every name <genindex>`, the",
        ":ref:`index of modules <modindex>`, and :doc:`ignite-paths` (the object each of Ignite's paths gives).\n",
        ".. toctree::\n   :maxdepth: 2\n\n   module/cadence\n",
    ]
    _write(API / "index.rst", "\n".join(index))
    _write(API / "ignite-paths.rst", ignite_paths.page(aliases, objects))
    keep = {API / "index.rst", API / "ignite-paths.rst"} | {API / f"{p}.rst" for p in files}
    keep |= {API / "module" / f"{m}.rst" for m in listings}
    for stale in [*API.glob("*.rst"), *API.glob("module/*.rst")]:
        if stale not in keep:
            stale.unlink()
    return aliases, objects


if __name__ == "__main__":
    table, documented = generate()
    print(f"{len(documented)} object pages, {len(table)} public paths", file=sys.stderr)

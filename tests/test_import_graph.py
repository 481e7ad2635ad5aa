"""cadence's imports run one way: no module imports itself through others, and none imports from a layer above.

Every import counts, wherever it is written: at the top, inside a function, under ``TYPE_CHECKING``.
Importing ``a.b.c`` also runs the packages ``a.b`` and ``a`` that hold it, so those count too, except the
importer's own packages (a module of ``cadence.engine`` is imported while ``cadence.engine`` is).

Also: a module's ``__all__`` lists its own names, not the engine and metric names that it imports (and
re-exports, where Ignite's module at that path offers them).
"""

from __future__ import annotations

import ast
import importlib
import warnings
from pathlib import Path

from cadence import engine
from cadence.exceptions import NotComputableError
from cadence.handlers.timing import Timer
from cadence.metrics import EpochMetric, Metric
from cadence.metrics.decorators import reinit__is_reduced, sync_all_reduce

SRC = Path(__file__).resolve().parents[1] / "src"

#: The layers, bottom-up: a module may import from its own layer and the layers below. A module's layer is
#: that of the longest dotted prefix listed here.
LAYERS: dict[str, int] = {
    "cadence._version": 0,
    "cadence.exceptions": 0,
    "cadence.data": 0,
    "cadence.utils": 0,
    "cadence.engine": 1,
    "cadence.distributed": 1,
    "cadence.metrics": 2,
    "cadence.loggers": 3,
    "cadence.handlers": 4,
    "cadence": 5,  # the public names, the Ignite paths (contrib, base, exceptions...), as_ignite, the demo
}
TOP = max(LAYERS.values())


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((SRC / "cadence").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _owner(name: str) -> str:
    """The module that ``name`` (a module, or a name inside one) is defined in."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imported(module: str, tree: ast.Module) -> set[str]:
    """The cadence modules that ``module`` names in its imports (a name imported from a module counts as it)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_owner(alias.name) for alias in node.names if alias.name.split(".")[0] == "cadence"}
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                package = module.split(".") if _is_package(module) else module.split(".")[:-1]
                base = package[: len(package) - node.level + 1]
                source = ".".join([*base, source] if source else base)
            if source.split(".")[0] == "cadence":
                found |= {_owner(f"{source}.{alias.name}") for alias in node.names}
    return found


def _edges(module: str, imported: set[str]) -> set[str]:
    """``imported`` and the packages that hold them, but ``module`` itself and the packages that hold it."""
    edges = set()
    for target in imported:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            holder = ".".join(parts[:end])
            if holder == target or not (module == holder or module.startswith(f"{holder}.")):
                edges.add(holder)
    edges.discard(module)
    return edges


def _graph() -> dict[str, set[str]]:
    return {
        name: _edges(name, _imported(name, ast.parse(path.read_text(encoding="utf-8"))))
        for name, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


GRAPH = _graph()


def _reexports_only(module: str) -> bool:
    """A module of imports alone (an Ignite import path such as ``cadence.metrics.accuracy``), not a package."""
    if _is_package(module):
        return False
    for statement in ast.parse(MODULES[module].read_text(encoding="utf-8")).body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        if isinstance(statement, ast.Assign) and [ast.unparse(t) for t in statement.targets] == ["__all__"]:
            continue
        return False
    return True


def layer(module: str) -> int:
    """The layer of ``module``; a module that only re-exports is on top, since nothing of cadence builds on it."""
    if _reexports_only(module):
        return TOP
    prefix = module
    while prefix not in LAYERS:
        prefix = prefix.rpartition(".")[0]
    return LAYERS[prefix]


def test_the_graph_sees_every_kind_of_import() -> None:
    source = """
import cadence.utils
from typing import TYPE_CHECKING
from . import events
from .state import State
from .. import metrics
from ..distributed.context import get_rank
if TYPE_CHECKING:
    from cadence.handlers.timing import Timer
def lazy():
    from cadence.loggers import base
"""
    imported = _imported("cadence.engine.dispatch", ast.parse(source))
    assert imported == {
        "cadence.utils",
        "cadence.engine.events",
        "cadence.engine.state",
        "cadence.metrics",
        "cadence.distributed.context",
        "cadence.handlers.timing",
        "cadence.loggers.base",
    }
    edges = _edges("cadence.engine.dispatch", imported)
    assert {"cadence.distributed", "cadence.handlers", "cadence.loggers"} <= edges  # the packages that hold them
    assert "cadence.engine" not in edges and "cadence" not in edges  # but not the importer's own packages
    assert _edges("cadence.loggers.neptune", {"cadence"}) == {"cadence"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("cadence.metrics.accuracy") == TOP and layer("cadence.metrics.metric") == LAYERS["cadence.metrics"]


def test_no_import_cycles() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, "modules that import each other (directly or through others):\n" + "\n".join(
        str(cycle) for cycle in cycles
    )


def test_no_import_from_a_higher_layer() -> None:
    """A package may import its own modules whatever their layer: Ignite's packages make their modules (such as
    ``ignite.handlers.param_scheduler``) attributes of themselves, and so do cadence's."""
    upward = [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if layer(target) > layer(module) and target.rpartition(".")[0] != module
    ]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_all_lists_no_engine_or_metric_name_that_a_module_only_imports() -> None:
    """Ignite's modules import ``Engine``, ``Metric``, ``reinit__is_reduced``... and so offer them; cadence's modules
    at those paths re-export them (``from x import Y as Y``) but list in ``__all__`` only their own names."""
    imported_by_ignite = [getattr(engine, name) for name in engine.__all__]
    imported_by_ignite += [Metric, EpochMetric, NotComputableError, reinit__is_reduced, sync_all_reduce, Timer]
    shared = {id(value) for value in imported_by_ignite}
    listed = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ignite's deprecated contrib paths warn when imported
        for name in sorted(MODULES):
            if _is_package(name) or name.startswith(("cadence.contrib", "cadence._ignite_path")):
                continue
            module = importlib.import_module(name)
            for exported in getattr(module, "__all__", ()):
                value = getattr(module, exported)
                if id(value) in shared and getattr(value, "__module__", name) != name:
                    listed.append(f"{name}.{exported}")
    assert not listed, f"__all__ lists names these modules only import: {listed}"

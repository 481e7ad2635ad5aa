"""The one rule that leaves an Ignite test out of the count: it reaches into Ignite's private internals.

A test function is left out when its body, or a helper function of the same file that it calls
(followed transitively), does one of these:

- reads or writes an attribute whose name has one leading underscore (``engine._event_handlers``,
  ``idist.utils._model``), unless the object is a standard-library, NumPy, PyTest or PyTorch module
  or a mock (whose private names are theirs, not Ignite's);
- imports a name with one leading underscore from ``ignite`` (``from ignite.engine import _check_arg``),
  or uses such a name that the file imported at its top;
- patches an Ignite module: a ``patch("ignite....")`` / ``monkeypatch.setattr("ignite....", ...)`` target
  string, or ``patch.object`` / ``monkeypatch.setattr`` of an attribute whose name is private.

Fixtures and parametrization are not followed. The rule is applied the same way to every file, before
any test runs, and the harness lists every test it leaves out with the reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

# Roots of expressions whose private attributes are not Ignite's.
FOREIGN_ROOTS = frozenset(
    {
        "torch",
        "np",
        "numpy",
        "os",
        "sys",
        "pytest",
        "math",
        "time",
        "threading",
        "multiprocessing",
        "mock",
        "MagicMock",
        "Mock",
        "patch",
        "warnings",
        "logging",
        "gc",
        "weakref",
        "pickle",
        "random",
        "tempfile",
        "shutil",
        "subprocess",
        "signal",
        "socket",
        "collections",
        "functools",
        "inspect",
        "dist",
        "mp",
        "nn",
        "F",
        "tqdm",
        "json",
        "re",
        "io",
        "Path",
        "pathlib",
        "platform",
        "importlib",
        "datetime",
        "copy",
        "itertools",
        "typing",
        "enum",
        "abc",
        "contextlib",
        "unittest",
        "caplog",
        "capsys",
        "recwarn",
        "monkeypatch",
        "request",
        "self",
        "cls",
        "super",
        "sklearn",
        "scipy",
        "matplotlib",
        "plt",
        "visdom",
        "mlflow",
        "wandb",
        "clearml",
        "neptune",
        "tensorboardX",
        "SummaryWriter",
        "hvd",
        "xm",
        "xmp",
        "horovod",
        "packaging",
        "Version",
        "filelock",
    }
)
PATCHERS = frozenset({"patch", "setattr", "object", "dict", "delattr"})


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _private_imports(tree: ast.Module) -> set[str]:
    """Private names the file imports from ignite at its top level."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ignite"):
            for alias in node.names:
                if _is_private(alias.name):
                    names.add(alias.asname or alias.name)
    return names


def _reasons_in(body: ast.AST, private_imported: set[str]) -> Iterator[str]:
    for node in ast.walk(body):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            root = _root_name(node.value)
            if root not in FOREIGN_ROOTS and not (root or "").startswith("mock"):
                yield f"private attribute .{node.attr}"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ignite"):
            for alias in node.names:
                if _is_private(alias.name):
                    yield f"imports private {node.module}.{alias.name}"
        elif isinstance(node, ast.Name) and node.id in private_imported:
            yield f"uses private {node.id}"
        elif isinstance(node, ast.Call) and _call_name(node) in PATCHERS:
            for arg in node.args[:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    if arg.value.startswith("ignite."):
                        yield f"patches {arg.value}"
                    elif _is_private(arg.value) and node.args and arg is node.args[1]:
                        yield f"patches private attribute {arg.value}"


def _helpers(tree: ast.Module) -> dict[str, ast.AST]:
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def _called_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def excluded_tests(path: Path) -> dict[str, str]:
    """Map each left-out test function of a file (``name`` or ``Class::name``) to its reason."""
    tree = ast.parse(path.read_text())
    private_imported = _private_imports(tree)
    helpers = _helpers(tree)
    reasons: dict[str, str] = {}

    def reason_for(func: ast.AST) -> str | None:
        seen: set[str] = set()
        stack = [func]
        while stack:
            node = stack.pop()
            for reason in _reasons_in(node, private_imported):
                return reason
            for name in _called_names(node) - seen:
                seen.add(name)
                if name in helpers and not name.startswith("test"):
                    stack.append(helpers[name])
        return None

    def visit(nodes: list[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                visit(node.body, f"{prefix}{node.name}::")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                reason = reason_for(node)
                if reason:
                    reasons[prefix + node.name] = reason

    visit(tree.body, "")
    return reasons

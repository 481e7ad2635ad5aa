"""The one rule that leaves an Ignite test out of the count: it reaches into Ignite's private internals.

A test function is left out when its body, or a helper function or class of the same file that it
uses (followed transitively), does one of these:

- reads, writes or defines (an override in a subclass) an attribute or method whose name has one
  leading underscore (also through ``getattr(obj, "_name")``): ``engine._event_handlers``,
  ``idist.utils._model``; unless the object is a standard-library, NumPy, PyTest or PyTorch module or
  a mock (whose private names are theirs);
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


def _bound_names(body: ast.AST) -> set[str]:
    """Names the code binds itself (assignments, loop targets, arguments): ``re = Recall()`` is no module."""
    bound = {n.id for n in ast.walk(body) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {a.arg for n in ast.walk(body) if isinstance(n, ast.arguments) for a in n.args + n.kwonlyargs}
    return bound - {"self", "cls"}


def _reasons_in(body: ast.AST, private_imported: set[str]) -> Iterator[str]:
    local = _bound_names(body)
    for node in ast.walk(body):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _is_private(item.name):
                    yield f"overrides private method {item.name}"
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            root = _root_name(node.value)
            foreign = root in FOREIGN_ROOTS and root not in local
            if not foreign and not (root or "").startswith("mock"):
                yield f"private attribute .{node.attr}"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ignite"):
            for alias in node.names:
                if _is_private(alias.name):
                    yield f"imports private {node.module}.{alias.name}"
        elif isinstance(node, ast.Name) and node.id in private_imported:
            yield f"uses private {node.id}"
        elif isinstance(node, ast.Call) and _call_name(node) in {"getattr", "hasattr"} and len(node.args) > 1:
            name = node.args[1]
            text = name.value if isinstance(name, ast.Constant) else None
            if isinstance(name, ast.JoinedStr) and name.values and isinstance(name.values[0], ast.Constant):
                text = name.values[0].value
            if isinstance(text, str) and _is_private(text):
                yield f"private attribute {text}... by getattr"
        elif isinstance(node, ast.Call) and _call_name(node) in PATCHERS:
            for arg in node.args[:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    if arg.value.startswith("ignite."):
                        yield f"patches {arg.value}"
                    elif _is_private(arg.value) and node.args and arg is node.args[1]:
                        yield f"patches private attribute {arg.value}"


def _helpers(tree: ast.Module) -> dict[str, ast.AST]:
    """The file's module-level functions and (non-test) classes, which a test may call or subclass."""
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    return {node.name: node for node in tree.body if isinstance(node, kinds) and not node.name.startswith("Test")}


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


def strip_private_imports(source: str) -> str:
    """Drop the private names from a test file's top-level ``from ignite... import`` lines.

    The tests that use those names are left out by the rule above; without this, one private import
    at the top of a file would stop every other test of that file from being collected. Line numbers
    are kept, so tracebacks still point into Ignite's file as released.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in reversed(tree.body):
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ignite")):
            continue
        kept = [alias for alias in node.names if not _is_private(alias.name)]
        if len(kept) == len(node.names):
            continue
        start, end = node.lineno - 1, node.end_lineno or node.lineno
        text = ast.unparse(ast.ImportFrom(module=node.module, names=kept, level=node.level)) if kept else "pass"
        padding = "\n" * (end - start - 1)
        lines[start:end] = [f"{text}  # private names removed by compat/exclusions.py\n{padding}"]
    return "".join(lines)

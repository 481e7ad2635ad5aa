"""Sphinx configuration of cadence's documentation (``make docs``; warnings are errors)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import gen_api  # noqa: E402

import cadence  # noqa: E402

project = "cadence"
author = "cadence contributors"
release = version = cadence.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

autosummary_generate = False  # docs/gen_api.py writes the pages: one per object, whatever its paths
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "alabaster"
html_title = f"cadence {release}"
html_sidebars = {"**": ["about.html", "searchbox.html", "navigation.html"]}
html_theme_options = {"description": "Training loops for PyTorch, an Ignite drop-in", "sidebar_collapse": True}

ALIASES, OBJECTS = gen_api.generate()
DOCUMENTED = {id(value): path for path, value in OBJECTS.items() if gen_api.is_object(value)}
# A short name that only one public object has (``Engine``, ``Parallel``) resolves to it from any page.
_BY_SHORT: dict[str, set[str]] = {}
for _alias, _path in ALIASES.items():
    _BY_SHORT.setdefault(_alias.rsplit(".", 1)[1], set()).add(_path)
SHORT = {name: next(iter(paths)) for name, paths in _BY_SHORT.items() if len(paths) == 1}

# Without network access there is no intersphinx inventory: names of torch, the standard library and
# other packages stay plain text. Private base classes and type variables have no page by design.
nitpicky = True
EXTERNAL = set(sys.stdlib_module_names) | {
    "torch", "numpy", "tqdm", "torchdata", "tensorboard", "sklearn", "scipy", "matplotlib", "PIL", "pandas",
    "mlflow", "wandb", "clearml", "neptune", "visdom", "polyaxon", "pynvml", "torchvision", "torchmetrics",
    "nltk", "ignite",
}  # fmt: skip
nitpick_ignore_regex = [
    (r"py:.*", rf"({'|'.join(sorted(EXTERNAL))})\..*"),  # another package's name (a cadence one must resolve)
    (r"py:.*", r"(.*\.)?_\w+(\..*)?"),  # a private name
    (r"py:.*", r"(.*\.)?(T|R|P|F|K|V|OutputT|ValueT|NumberT|BatchT)"),  # a type variable
    # Types in signatures that no __all__ lists, so they have no page.
    (r"py:class", r"(cadence\.engine\.dispatch\.)?HandlerRecord"),
    (r"py:class", r"cadence\.engine\.supervised\.AttachableMetric"),
    (r"py:class", r"(cadence\.metrics\.nlp\.bleu\.)?(Smoothing|Averaging)"),
]


def _documented(target: str) -> str | None:
    """The documented path of ``target``, written with any public path of an object or of a member of it.

    A member inherited from a documented base class (``cadence.Engine.add_event_handler``) is the base's.
    """
    head, member = target, ""
    while head and head not in ALIASES:
        head, _, last = head.rpartition(".")
        member = f"{last}.{member}" if member else last
    if not head:
        return None
    path = ALIASES[head]
    if not member:
        return path
    value = OBJECTS[path]
    first = member.split(".", 1)[0]
    for owner in getattr(value, "__mro__", ()):
        if first in vars(owner):
            return f"{DOCUMENTED.get(id(owner), path)}.{member}"
    return f"{path}.{member}"


def _resolve_alias(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a Python cross reference that Sphinx did not find through the public paths of the objects.

    Sphinx knows each object by its documented path (and the defining module's path); a reference may
    use any path it is importable from, a short name unique among the public names, or a member of
    either, relative to the current module or class.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module and cls:
        candidates.append(f"{module}.{cls}.{target}")
    candidates.extend(f"{scope}.{target}" for scope in (cls, module) if scope)
    first, _, tail = target.partition(".")
    if first in SHORT:
        candidates.append(SHORT[first] + (f".{tail}" if tail else ""))
    domain = env.get_domain("py")
    for candidate in candidates:
        resolved = _documented(candidate)
        if resolved is None or resolved == target:
            continue
        new = node.deepcopy()
        new["reftarget"] = resolved
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], resolved, new, contnode)
        if found is not None:
            return found
    return None


_CODE = re.compile(r"``.+?``|:[\w:]+:`.+?`|`.+?`")
_TYPE = re.compile(r"~?[\w.]+(\[.*\])?( \| ~?[\w.]+(\[.*\])?)*")


def _keep_prose_attribute(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Keep napoleon from reading ``Prose: more prose`` in an attribute's docstring as ``type: description``.

    cadence's attributes and properties take their types from annotations; their docstrings are prose.
    A leading ``": "`` is napoleon's "no type" form (it runs after this handler).
    """
    if what not in {"attribute", "data", "property"} or not lines:
        return
    masked = _CODE.sub(lambda match: "x" * len(match.group()), lines[0])
    colon = masked.find(":")
    if colon > 0 and not _TYPE.fullmatch(lines[0][:colon].strip()):
        lines[0] = f": {lines[0]}"


_MEMBER_REF = re.compile(r":(meth|attr):`~?([A-Za-z_]\w*)`")


def _anchor_member_refs(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Point a class docstring's ``:meth:`update``` at the class's member, also where it is read out of the
    class's context (a module's table of names shows the first line of each class docstring)."""
    if what != "class":
        return

    def anchor(match: re.Match[str]) -> str:
        role, member = match.groups()
        target = f"{name}.{member}"
        for owner in getattr(obj, "__mro__", ()):
            if member in vars(owner):
                if not owner.__module__.startswith("cadence"):  # a torch base class's method: no page here
                    target = f"{owner.__module__}.{owner.__qualname__}.{member}"
                break
        return f":{role}:`{member}{'()' if role == 'meth' else ''} <{target}>`"

    lines[:] = [_MEMBER_REF.sub(anchor, line) for line in lines]


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_alias)
    app.connect("autodoc-process-docstring", _keep_prose_attribute, priority=400)
    app.connect("autodoc-process-docstring", _anchor_member_refs, priority=400)

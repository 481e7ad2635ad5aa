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

# docs/gen_api.py writes the pages: one per object, whatever its paths (autosummary's stubs, :recursive: or not,
# are one per path: an object at five paths would be documented five times).
autosummary_generate = False
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
DOCUMENTED = {id(value): path for path, value in OBJECTS.items() if gen_api.is_object(value)}  # by identity
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


def _declare_aliases(app: Any, env: Any) -> None:
    """Declare each public path of a documented object to the Python domain as an alias of its documented path,
    as Sphinx declares a class's defining path (autodoc's ``:canonical:``); also each member under each of
    those paths, inherited members of a documented base class included (``cadence.Engine.add_event_handler``).
    The domain's own lookup then resolves any of them, relative to the current module or class as usual."""
    objects = env.get_domain("py").objects
    members: dict[str, list[str]] = {path: [""] for path in OBJECTS if path in objects}
    for name, entry in list(objects.items()):
        head = name
        while not entry.aliased and "." in head:
            head = head.rpartition(".")[0]
            if head in members:
                members[head].append(name[len(head) :])
                break
    for path, value in OBJECTS.items():  # a class gets the members of its bases that it does not override
        for owner in getattr(value, "__mro__", ())[1:]:
            base = DOCUMENTED.get(id(owner))
            for member in members.get(base, ())[1:] if base else ():
                if path + member not in objects:
                    objects[path + member] = objects[base + member]._replace(aliased=True)
                    members[path].append(member)
    for alias, path in ALIASES.items():
        for member in members.get(path, ()):
            objects.setdefault(alias + member, objects[path + member]._replace(aliased=True))


def _resolve_short_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a reference that starts with a short name only one public object has (``Engine.run``)."""
    first, dot, tail = node["reftarget"].partition(".")
    if node.get("refdomain") != "py" or first not in SHORT:
        return None
    target = SHORT[first] + dot + tail
    new = node.deepcopy()
    new["reftarget"] = target
    return env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, node["reftype"], target, new, contnode)


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
    app.connect("env-updated", _declare_aliases)
    app.connect("missing-reference", _resolve_short_name)
    app.connect("autodoc-process-docstring", _keep_prose_attribute, priority=400)
    app.connect("autodoc-process-docstring", _anchor_member_refs, priority=400)

"""The documentation site: it builds without a warning, every public name has a page reachable from each
module that exports it, every internal link resolves, and the guides' examples run as written."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import types
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
DEMO = "cadence.examples"  # the demo's script: shown by the getting-started guide, not an API
GUIDES = sorted((DOCS / "guides").glob("*.md"))
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)
RUNNABLE = [guide for guide in GUIDES if _PYTHON_BLOCK.search(guide.read_text(encoding="utf-8"))]


class _Links(HTMLParser):
    """The ids and the link targets (href, src) of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.ids.add(value)
            elif name in {"href", "src"}:
                self.links.append(value)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site as ``make docs`` does (warnings are errors, cross references checked) into a temp folder."""
    out = tmp_path_factory.mktemp("docs")
    command = [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-q", "-j", "2"]
    command += ["-b", "html", "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    return out / "html"


def _public_modules() -> dict[str, types.ModuleType]:
    """Every public module of cadence (no ``_`` in its dotted path), but the demo's script."""
    import cadence

    names = ["cadence"]
    for info in pkgutil.walk_packages(cadence.__path__, "cadence."):
        if not any(part.startswith("_") for part in info.name.split(".")) and not info.name.startswith(DEMO):
            names.append(info.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ignite's deprecated contrib paths warn when imported
        return {name: importlib.import_module(name) for name in names}


def _object_at(path: str) -> object | None:
    """The object a documented path names: the longest importable module, then attributes."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is not None:
            value: object = module
            for part in parts[split:]:
                value = getattr(value, part, None)  # None: an instance attribute, documented by name only
            return value
    raise LookupError(path)


def test_every_public_class_and_function_has_a_docstring_with_an_example() -> None:
    """What each API page shows: a description and a runnable example (the doctests run them)."""
    lacking = set()
    for module in _public_modules().values():
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if (inspect.isclass(value) or inspect.isroutine(value)) and ">>>" not in (inspect.getdoc(value) or ""):
                lacking.add(f"{value.__module__}.{value.__qualname__}")
    assert not lacking, f"public names without a docstring example: {sorted(lacking)}"


@pytest.mark.slow
@pytest.mark.timeout(600)  # includes building the site (about 1.5 minutes on 2 busy cores)
def test_every_public_name_has_a_page_linked_from_each_module(site: Path) -> None:
    """Each name of each public module's ``__all__`` is linked from that module's page to the page
    documenting that very object (one page per object, whatever the paths it is exported at)."""
    modules = _public_modules()
    assert sum(len(getattr(module, "__all__", ())) for module in modules.values()) > 900  # Ignite's 717 and more
    unlinked = []
    for module_name, module in modules.items():
        listing = site / "api" / "module" / f"{module_name}.html"
        assert listing.exists(), f"{module_name} has no page"
        targets = []
        for link in _parse(listing).links:
            page, _, anchor = link.partition("#")
            if not (listing.parent / page).exists():
                continue
            if anchor.startswith("cadence."):
                targets.append((anchor, _object_at(anchor)))
            elif anchor.startswith("module-"):
                targets.append((anchor, None))
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if isinstance(value, types.ModuleType):
                found = any(anchor == f"module-{value.__name__}" for anchor, _ in targets)
            elif inspect.isclass(value) or inspect.isroutine(value):
                found = any(target is value for _, target in targets)
            else:  # a constant: the same name and value
                found = any(anchor.endswith(f".{name}") and target is value for anchor, target in targets)
            if not found:
                unlinked.append(f"{module_name}.{name}")
    assert not unlinked, f"public names without a linked page: {unlinked}"


class _Rows(HTMLParser):
    """The rows of an HTML table: each cell's text and link targets."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, list[str]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in {"td", "th"}:
            self.rows[-1].append(("", []))
        elif tag == "a" and self.rows and self.rows[-1]:
            self.rows[-1][-1][1].append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        if self.rows and self.rows[-1]:
            text, links = self.rows[-1][-1]
            self.rows[-1][-1] = (text + data, links)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ignite_paths_page_links_each_ignite_path_to_its_object(site: Path) -> None:
    """The table of Ignite's import paths has a row for each of Ignite's public names, in the order of
    ``docs/ignite_names.txt``, linked to the page documenting the object that its ``cadence`` path gives."""
    names = (DOCS / "ignite_names.txt").read_text(encoding="utf-8").split()
    assert len(names) == 717  # Ignite 0.5.5's public names (compat/names.py)
    page = site / "api" / "ignite-paths.html"
    parser = _Rows()
    parser.feed(page.read_text(encoding="utf-8"))
    rows = parser.rows[1:]  # the header first
    assert [row[0][0].strip() for row in rows] == ["cadence" + name.removeprefix("ignite") for name in names]
    modules = _public_modules()
    wrong = []
    for row in rows:
        path = row[0][0].strip()
        module, name = path.rsplit(".", 1)
        value = getattr(importlib.import_module(module), name)
        [link] = row[1][1]
        target, _, anchor = link.partition("#")
        assert (page.parent / target).exists(), link
        if isinstance(value, types.ModuleType):
            found = anchor == f"module-{value.__name__}" and value.__name__ in modules
        elif inspect.isclass(value) or inspect.isroutine(value):
            found = _object_at(anchor) is value
        else:  # a constant: the same name and value
            found = anchor.endswith(f".{name}") and _object_at(anchor) is value
        if not found:
            wrong.append(f"{path}: {link}")
    assert not wrong, wrong


def test_ignite_names_are_ignites() -> None:
    """``docs/ignite_names.txt`` is what compat/names.py finds walking the installed pytorch-ignite 0.5.5."""
    if importlib.util.find_spec("ignite") is None:
        pytest.skip("pytorch-ignite is not installed")
    done = subprocess.run(
        [sys.executable, str(DOCS / "ignite_paths.py"), "--check"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"docs/ignite_names.txt differs from Ignite's names:\n{done.stdout}{done.stderr}"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_internal_links_resolve(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    ids = {page: _parse(page).ids for page in pages}
    broken = []
    for page in pages:
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                known = ids.get(target)
                if known is None:
                    known = ids[target] = _parse(target).ids
                if unquote(parts.fragment) not in known:
                    broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    assert not broken, "\n".join(broken[:50])


@pytest.mark.parametrize("guide", RUNNABLE, ids=[guide.stem for guide in RUNNABLE])
def test_guide_examples_run(guide: Path, tmp_path: Path) -> None:
    """The ```python blocks of a guide run in order as one script, in a fresh process and an empty folder
    (```py blocks are shown, not run)."""
    script = tmp_path / f"{guide.stem}.py"
    script.write_text("\n".join(_PYTHON_BLOCK.findall(guide.read_text(encoding="utf-8"))), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{guide.name}'s examples failed:\n{done.stdout}\n{done.stderr}"


def test_guides_and_api_are_in_the_table_of_contents() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for guide in GUIDES:
        assert f"guides/{guide.stem}" in index, f"{guide.name} is not in docs/index.md's toctree"
    assert "api/index" in index
    assert os.path.exists(DOCS / "conf.py")

"""The documentation site: it builds without a warning, every public name has a page reachable from each
module that exports it, every internal link resolves, and the guides' examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
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


@pytest.mark.slow
def test_every_public_name_has_a_page_linked_from_each_module(site: Path) -> None:
    sys.path.insert(0, str(DOCS))
    try:
        import gen_api
    finally:
        sys.path.remove(str(DOCS))
    listings, entries = gen_api.collect()
    assert sum(len(names) for names in listings.values()) > 1000  # Ignite's 717 and cadence's own
    pages = {}  # documented path -> the page documenting it, found by its anchor
    for page in (site / "api").glob("*.html"):
        for anchor in _parse(page).ids & {entry.canonical for entry in entries.values()}:
            pages[anchor] = page.name
    missing = sorted({entry.canonical for entry in entries.values()} - pages.keys())
    assert not missing, f"public names without a page: {missing}"
    documented = {path: entry.canonical for entry in entries.values() for path in entry.paths}
    for module, names in listings.items():
        listing = site / "api" / "module" / f"{module}.html"
        links = set(_parse(listing).links)
        for name in names:
            path = f"{module}.{name}"
            if path in documented:
                target = documented[path]
                expected = f"../{pages[target]}#{target}"
            else:  # a module re-exported under a name
                expected = f"{getattr(sys.modules[module], name).__name__}.html#module-"
            assert any(link.startswith(expected) for link in links), f"{listing.name} has no link for {name}"


@pytest.mark.slow
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
def test_guide_examples_run(guide: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```python blocks of a guide run in order, as one script (```py blocks are shown, not run)."""
    blocks = _PYTHON_BLOCK.findall(guide.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)  # examples may write files (checkpoints, logs)
    namespace: dict[str, object] = {"__name__": "__guide__"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{guide.name} example {number}", "exec"), namespace)


def test_guides_and_api_are_in_the_table_of_contents() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for guide in GUIDES:
        assert f"guides/{guide.stem}" in index, f"{guide.name} is not in docs/index.md's toctree"
    assert "api/index" in index
    assert os.path.exists(DOCS / "conf.py")

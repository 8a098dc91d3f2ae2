"""docs/architecture.md is a map that matches the tree: every path it names exists, and it names every package."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
PRODUCT = ("trainables", "sweep", "search_spaces", "analysis")
QUOTED = re.compile(r"`([^`\s]+)`")


def named_paths(text: str) -> list[str]:
    """Quoted names that are paths, in page order: a folder ("x/") or a file ("x/y.py", or "y.py" after its folder)."""
    return [name for name in QUOTED.findall(text) if "/" in name or name.endswith(".py")]


def missing_paths(text: str, root: Path) -> list[str]:
    """Named paths that do not exist: a path as written from the root, a bare file name in the folder named last
    before it (the page lists a package's modules after the package)."""
    missing, folder = [], None
    for name in named_paths(text):
        if name.endswith("/"):
            folder = name
        path = root / name if "/" in name or folder is None else root / folder / name
        if not path.exists():
            missing.append(name)
    return sorted(set(missing))


def test_every_path_the_page_names_exists():
    assert missing_paths(PAGE.read_text(), ROOT) == []


def test_the_page_names_every_package():
    packages = {f"{path.parent.relative_to(ROOT)}/" for top in PRODUCT for path in (ROOT / top).rglob("__init__.py")}
    assert len(packages) >= 15
    assert sorted(packages - set(named_paths(PAGE.read_text()))) == []


def test_the_check_finds_a_path_that_is_gone(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "here.py").write_text("")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "there.py").write_text("")
    text = "`pkg/` holds `here.py` and `pkg/here.py`, not `gone.py` nor `there.py` nor `pkg/gone/`; `x` is no path"
    assert missing_paths(text, tmp_path) == ["gone.py", "pkg/gone/", "there.py"]

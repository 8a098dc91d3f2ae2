"""The README stays a user's guide (<= 220 lines) and every relative link in it and in docs/ leads to a file."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def broken_links(markdown: Path) -> list[str]:
    """Relative link targets of one markdown file that do not exist (web links and anchors within the page skipped)."""
    targets = LINK.findall(markdown.read_text())
    return [t for t in targets if "://" not in t and not (markdown.parent / t).exists()]


def test_every_relative_link_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert {page: broken_links(page) for page in pages if broken_links(page)} == {}


def test_the_link_check_finds_a_broken_link(tmp_path):
    (tmp_path / "there.md").write_text("x")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md) [anchor](there.md#a) [web](https://example.org/x) [gone](docs/missing.md)")
    assert broken_links(page) == ["docs/missing.md"]


def test_readme_is_a_short_users_guide():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 220
    first = "\n".join(lines[:20])
    assert "python -m sweep.run paper_grid --profile smoke" in first and 'pip install -e ".[test]" && pytest' in first

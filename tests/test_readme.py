"""The README's and docs pages' examples, followed in order by a new user, their links, and the
repository's own files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def console_blocks(text: str) -> list[str]:
    """The ``console`` blocks of a Markdown text."""
    return re.findall(r"```console\n(.*?)```", text, re.S)


def documentation() -> list[Path]:
    """The README and the pages under docs/ it links to."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_readme_feed_examples_use_an_index_of_their_own() -> None:
    """Every example, in the README or a docs page, that adds a feed first points QA_INDEX_DIR at a
    directory no other example uses: followed in order, the default index already holds the seed
    article."""
    blocks = [
        b
        for page in documentation()
        for b in console_blocks(page.read_text(encoding="utf-8"))
        if "qa feeds add" in b
    ]
    assert blocks
    chosen = []
    for block in blocks:
        before = block[: block.index("qa feeds add")]
        found = re.findall(r"^\$ export QA_INDEX_DIR=(\S+)", before, re.M)
        assert found, block
        chosen.append(found[-1])
    assert len(set(chosen)) == len(chosen), chosen


def test_gitignore_lists_no_tracked_file() -> None:
    """No file the repository tracks matches a pattern of its ``.gitignore`` files (the user's own
    excludes are not asked)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-per-directory=.gitignore"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout == ""


def test_documentation_links_resolve() -> None:
    """Every relative link of the README and the docs pages names a file that exists, and a
    ``#fragment`` names a heading of the page it points to."""

    def anchors(page: Path) -> set[str]:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        slugs = set()
        for title in re.findall(r"^#+ (.+)$", text, re.M):
            slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
            slugs.add(slug)
        return slugs

    broken = []
    for page in documentation():
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target}")
            elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def test_every_setting_is_documented() -> None:
    """Every ``QA_`` environment variable of the settings is in docs/configuration.md's table."""
    from qa.config import Settings

    table = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [f"QA_{name.upper()}" for name in Settings.model_fields if f"`QA_{name.upper()}`" not in table]
    assert not missing, missing

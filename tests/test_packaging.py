"""What a plain ``pip install .`` gets, and what one unreadable file costs an indexing run."""

from __future__ import annotations

import ast
import ensurepip
import json
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from qa.engine import Engine
from tests.conftest import REPO

GOOD = {
    "ferry.txt": "Ferry service resumes\n\nThe ferry to the island resumed on Friday after the storm.\n",
    "bridge.txt": "Bridge reopens\n\nThe old bridge over the river reopened to traffic on Monday.\n",
}
PAGE = "<html><head><title>Harbour news</title></head><body><p>The harbour opened.</p></body></html>"


def declared() -> list[Requirement]:
    """The project's runtime requirements, as pyproject.toml declares them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]]


def test_every_package_the_code_imports_is_declared() -> None:
    """Each third-party module that qa/ and bots/ import comes from a package that pyproject.toml names
    (a dependency or an extra's), not only from one installed under another's."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [Requirement(r) for group in project["optional-dependencies"].values() for r in group]
    named = {canonicalize_name(r.name) for r in [*declared(), *extras]}
    imported: dict[str, Path] = {}
    for path in sorted([*(REPO / "qa").rglob("*.py"), *(REPO / "bots").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                imported.setdefault(module.split(".")[0], path.relative_to(REPO))
    distributions = packages_distributions()
    third_party = {
        m: p for m, p in imported.items() if m not in sys.stdlib_module_names and m not in {"qa", "bots"}
    }
    undeclared = {
        module: str(path)
        for module, path in third_party.items()
        if not {canonicalize_name(d) for d in distributions.get(module, [])} & named
    }
    assert third_party and not undeclared


def bundled_pip() -> Path:
    """The pip wheel Python itself ships (ensurepip): the pip of a fresh ``python -m venv``."""
    return next((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl"))


@pytest.mark.slow
def test_the_pip_python_ships_installs_what_the_html_reader_imports(tmp_path: Path) -> None:
    """Python 3.11's own pip (23.2), resolving our HTML requirements, installs lxml_html_clean."""
    wheel = bundled_pip()
    version = tuple(int(p) for p in wheel.name.split("-")[1].split(".")[:2])
    if version >= (23, 3):
        pytest.skip(f"this Python ships pip {version}, which matches lxml[html_clean] itself")
    html_reader = [
        str(r) for r in declared() if canonicalize_name(r.name) in {"trafilatura", "lxml", "lxml-html-clean"}
    ]
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            str(wheel / "pip"),
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            *html_reader,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    installed = {canonicalize_name(i["metadata"]["name"]) for i in json.loads(report.read_text())["install"]}
    assert {"trafilatura", "lxml-html-clean"} <= installed, sorted(installed)


@pytest.mark.parametrize("failure", ["import", "parser"])
def test_a_file_whose_parser_fails_is_skipped_and_the_rest_indexed(
    hash_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """Any exception while parsing one file is a warning naming it; the folder's other files are indexed."""
    folder = tmp_path / "news"
    folder.mkdir()
    for name, text in GOOD.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "page.html").write_text(PAGE, encoding="utf-8")
    if failure == "import":  # what a missing lxml_html_clean does: trafilatura cannot be imported
        monkeypatch.setitem(sys.modules, "trafilatura", None)
    else:
        import trafilatura

        def explode(*_: object, **__: object) -> None:
            raise RuntimeError("parser bug")

        monkeypatch.setattr(trafilatura, "bare_extraction", explode)
    report = hash_engine.index_paths([folder])
    assert len(report.added) == 2
    assert [Path(where).name for where, _ in report.skipped] == ["page.html"]
    reason = report.skipped[0][1]
    assert ("import of trafilatura" if failure == "import" else "RuntimeError: parser bug") in reason
    assert sorted(d.title for d in hash_engine.documents()) == ["Bridge reopens", "Ferry service resumes"]

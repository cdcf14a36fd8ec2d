"""Where an article came from: relative sources in public answers, and the ``qa docs`` listing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from bots.cli.render import documents_table, source_line
from bots.http import create_app
from qa.config import Settings
from qa.engine import Engine
from qa.errors import DocumentNotFoundError
from qa.models import DocumentInfo, public_source

HARBOUR = (
    "Harbour reopens\n2021-05-04 09:00:00\n\nThe harbour of Velmora reopened on Tuesday after the storm.\n"
)


def archive(root: Path) -> Path:
    """``root/news`` with a few articles, one of them deep in sub-folders."""
    news = root / "news"
    (news / "2021" / "may").mkdir(parents=True)
    (news / "491.txt").write_text(HARBOUR, encoding="utf-8")
    (news / "2021" / "may" / "17.txt").write_text(
        "Bridge works begin\n2021-05-17 08:00:00\n\nWorks on the Velmora bridge began on Monday.\n"
    )
    (news / "ferry.md").write_text("# A ferry timetable\n\nThe ferry to Velmora leaves every hour.\n")
    return news


def test_sources_are_relative_to_the_indexed_folder(hash_engine: Engine, tmp_path: Path) -> None:
    """Answers and listings name ``folder/path-below-it``; only ``path`` (CLI) holds the full path."""
    news = archive(tmp_path)
    hash_engine.index_paths([news])
    sources = sorted(d.source for d in hash_engine.documents())
    assert sources == ["news/2021/may/17.txt", "news/491.txt", "news/ferry.md"]
    passage = hash_engine.search("When did the harbour of Velmora reopen?", k=1)[0]
    assert passage.article.source == "news/491.txt"
    assert passage.article.path == str((news / "491.txt").resolve())
    assert str(tmp_path) not in str(passage.to_dict())
    assert source_line(passage.article).endswith(" · news/491.txt")  # as on the "also in" line


def test_an_older_index_with_absolute_sources_is_shown_without_them() -> None:
    """Sources stored as absolute paths (older indexes) are shown as ``folder/file``."""
    assert public_source("/tmp/data/news/491.txt") == "news/491.txt"
    assert public_source("news/491.txt") == "news/491.txt"
    assert public_source("upload:notes.md") == "upload:notes.md"


def test_http_responses_never_name_server_paths(seed_engine: Engine, tmp_path: Path) -> None:
    """POST /ask, /search and /documents name sources relative to their folder, never the server's path."""
    engine = Engine(Settings(index_dir=tmp_path / "index"), embedder=seed_engine.embedder)
    engine.index_paths([archive(tmp_path)])
    app = create_app(Settings(index_dir=tmp_path / "index", rate_limit=0), engine)
    with TestClient(app) as client:
        assert app.state.loader.wait(120)
        asked = client.post("/ask", json={"question": "When did the harbour of Velmora reopen?"})
        searched = client.get("/search", params={"q": "Velmora harbour"})
        listed = client.get("/documents")
        one = client.get(f"/documents/{listed.json()['documents'][0]['id']}")
    for response in (asked, searched, listed, one):
        assert response.status_code == 200, response.text
        assert str(tmp_path) not in response.text and "/tmp" not in response.text
    assert asked.json()["answers"][0]["article"]["source"] == "news/491.txt"


def test_document_page_searches_sorts_and_counts(hash_engine: Engine, tmp_path: Path) -> None:
    """A page of articles: search in title or source, sort by title, date or order added, with the total."""
    hash_engine.index_paths([archive(tmp_path)])
    page, total = hash_engine.document_page(0, 2)
    assert total == 3 and len(page) == 2
    by_title, _ = hash_engine.document_page(order="title")
    assert [d.title for d in by_title] == ["A ferry timetable", "Bridge works begin", "Harbour reopens"]
    by_date, _ = hash_engine.document_page(order="date")
    assert [d.title for d in by_date] == ["Bridge works begin", "Harbour reopens", "A ferry timetable"]
    found, matching = hash_engine.document_page(search="2021/MAY")
    assert matching == 1 and found[0].title == "Bridge works begin"
    assert hash_engine.document_page(search="%")[1] == 0  # LIKE wildcards are plain text


def test_a_document_is_found_by_id_source_or_path(hash_engine: Engine, tmp_path: Path) -> None:
    """``qa docs show`` takes an id, a source as listed, or the path of the file."""
    news = archive(tmp_path)
    hash_engine.index_paths([news])
    by_source, text = hash_engine.find_document("news/491.txt")
    assert by_source.title == "Harbour reopens" and "Tuesday" in text
    assert hash_engine.find_document(str(news / "491.txt"))[0].id == by_source.id
    assert hash_engine.find_document(by_source.id)[0].id == by_source.id
    with pytest.raises(DocumentNotFoundError):
        hash_engine.find_document("news/missing.txt")


def test_documents_table_escapes_fields_and_keeps_the_end_of_sources() -> None:
    """Titles show their markup as text (no live link), and long sources keep the end that differs."""
    deep = "news/" + "very-long-folder-name/" * 6
    documents = [
        DocumentInfo(
            "a1", "[link=http://evil.example]click[/link] [bold]loud", None, deep + "0491.txt", None, 2
        ),
        DocumentInfo("a2", "Plain title", None, deep + "0492.txt", None, 1),
    ]
    console = Console(width=160, force_terminal=True, color_system="truecolor", record=True)
    console.print(documents_table(documents, console.width))
    shown = console.export_text()
    raw = console.export_text(styles=True)
    assert "[link=http://evil.example]click[/link]" in shown and "\x1b]8;" not in raw
    assert "0491.txt" in shown and "0492.txt" in shown
    assert "date" not in shown.splitlines()[0]  # no empty date column

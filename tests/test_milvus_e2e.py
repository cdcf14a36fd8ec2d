"""One Milvus Lite server under real ``qa`` processes: two indexers at once, two ``qa serve`` replicas."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, SEEDS, free_port, needs_milvus, stop, wait_until_healthy

pytestmark = [pytest.mark.slow, needs_milvus, pytest.mark.xdist_group("milvus-e2e")]

KEY = "e2e-secret"
_collections = itertools.count()
NEWS = {
    "harbour.txt": (
        "Kestrel Bay dredging approved",
        "The Kestrel Bay port authority approved a dredging contract worth 41 million dollars.",
    ),
    "library.txt": (
        "Library reopens",
        "The Alderford public library reopened after a two-year renovation with a new reading room.",
    ),
    "world/orchard.txt": (
        "Record pear harvest",
        "The Linden Vale orchard harvested 900 tonnes of pears this autumn, a record for the valley.",
    ),
}
WIRE = {
    "ferry.txt": (
        "Night ferry returns",
        "The night ferry between Marlow Point and Sedge Island returns on 3 May after ten years.",
    ),
}
MILL = {
    "id": "tidal-mill",
    "title": "Tidal mill restored",
    "text": "The tidal mill at Orrin Creek was restored by 60 volunteers and grinds flour again.",
    "published": "2024-05-02",
}


def qa_env(root: Path, server: str, collection: str) -> dict[str, str]:
    """The environment of a ``qa`` process on one archive of the shared Milvus server."""
    env = {
        **os.environ,
        "QA_STORE": "milvus",
        "QA_MILVUS_URI": server,
        "QA_MILVUS_COLLECTION": collection,
        "QA_INDEX_DIR": str(root / "index"),  # the feed registry's place
        "XDG_DATA_HOME": str(root),
        "HF_HUB_OFFLINE": "1",
        "QA_RATE_LIMIT": "0",
        "QA_API_KEY": KEY,
        "PYTHONPATH": str(REPO),
    }
    env.pop("QA_MILVUS_TOKEN", None)
    return env


def write_articles(folder: Path, articles: dict[str, tuple[str, str]]) -> None:
    """Text files in the seed format: title, date line, title again, body."""
    for name, (title, body) in articles.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{title}\n\n2024-05-01 09:00:00\n{title}\n\n{body}\n", encoding="utf-8")


def qa(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """A ``python -m bots.cli`` process with its output captured."""
    command = [sys.executable, "-m", "bots.cli", *args]
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished(process: subprocess.Popen[str]) -> str:
    """The stdout of a ``qa`` process that must succeed."""
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return stdout


def test_two_indexers_on_overlapping_folders_store_every_article_once(
    milvus_server: str, tmp_path: Path
) -> None:
    """Two ``qa index`` at once, sharing a folder, leave each article once, and ``qa ask`` answers."""
    write_articles(tmp_path / "news", NEWS)
    write_articles(tmp_path / "wire", WIRE)
    seed = next(SEEDS.glob("*.txt"))
    shutil.copy(seed, tmp_path / "news" / "world" / seed.name)  # in the folder both index
    env = qa_env(tmp_path, milvus_server, f"e2e{next(_collections)}")
    both = [
        qa(env, "index", "--json", str(tmp_path / "news")),
        qa(env, "index", "--json", str(tmp_path / "news" / "world"), str(tmp_path / "wire")),
    ]
    reports = [json.loads(finished(p)) for p in both]
    assert len({a for r in reports for a in r["added"]}) == 5  # the shared two, by one or both
    listed = json.loads(finished(qa(env, "docs", "--json")))
    names = sorted(d["source"].rsplit("/", 1)[-1] for d in listed)
    assert names == sorted([seed.name, "ferry.txt", "harbour.txt", "library.txt", "orchard.txt"])
    assert len({d["id"] for d in listed}) == 5
    again = json.loads(finished(qa(env, "index", "--json", str(tmp_path / "news"), str(tmp_path / "wire"))))
    assert again["added"] == [] and again["unchanged"] == 5 and again["articles"] == 5
    assert again["chunks"] == sum(d["chunks"] for d in listed)  # no passage twice
    answer = json.loads(finished(qa(env, "ask", "--json", "When did the war start?")))["answers"][0]
    assert answer["text"].startswith("This war initially started on September 27")
    assert answer["article"]["source"].endswith(seed.name)


@pytest.fixture
def replicas(milvus_server: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two ``qa serve`` processes on one archive of the shared server, each with its own index dir."""
    collection = f"e2e{next(_collections)}"
    started: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for name in ("a", "b"):
            root = tmp_path / name
            root.mkdir()
            port, log = free_port(), root / "server.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "bots.cli", "serve", "--port", str(port)],
                    env=qa_env(root, milvus_server, collection),
                    cwd=REPO,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((process, f"http://127.0.0.1:{port}", log))
        for process, base, log in started:
            wait_until_healthy(base, process, log)
        headers = {"Authorization": f"Bearer {KEY}"}
        with (
            httpx.Client(base_url=started[0][1], headers=headers, timeout=120) as one,
            httpx.Client(base_url=started[1][1], headers=headers, timeout=120) as two,
        ):
            yield one, two
    finally:
        for process, _, _ in started:
            stop(process)


def cited(replica: httpx.Client, question: str) -> list[str]:
    """The ids of the articles a replica's answers quote."""
    response = replica.post("/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return [a["article"]["id"] for a in response.json()["answers"]]


def test_replicas_answer_from_an_article_added_or_removed_through_the_other(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    """An article posted to one replica is answered by the other at once; removed, neither cites it."""
    one, two = replicas
    question = "How many volunteers restored the tidal mill?"
    assert cited(two, question) == []
    response = one.post("/documents", json=MILL)
    assert response.status_code == 201 and response.json()["added"] == ["tidal-mill"]
    assert cited(two, question)[:1] == ["tidal-mill"]
    assert two.get("/documents/tidal-mill").json()["title"] == MILL["title"]
    assert cited(one, question)[:1] == ["tidal-mill"]
    assert two.delete("/documents/tidal-mill").status_code == 204
    assert "tidal-mill" not in cited(one, question)
    assert one.get("/documents/tidal-mill").status_code == 404
    assert two.get("/health").json()["articles"] == 0

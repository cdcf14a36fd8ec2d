"""How `qa` says that a setting is invalid, that `qa serve` cannot listen and that it was interrupted,
through real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import qa


@pytest.mark.parametrize(
    ("command", "env", "lines"),
    [
        (
            ["serve", "--port", "99999"], {},
            ["invalid setting port (--port / QA_PORT): must be at most 65535"],
        ),
        (
            ["serve"], {"QA_REFRESH": "soon", "QA_RATE_LIMIT": "-1"},
            [
                "invalid setting refresh (--refresh / QA_REFRESH): "
                "not a duration: 'soon' (use e.g. 30s, 15m, 1h)",
                "invalid setting rate_limit (QA_RATE_LIMIT): must be at least 0",
            ],
        ),
        (
            ["ask", "When did the war start?"], {"QA_RUNTIME": "gpu", "QA_TOP_K": "many"},
            [
                "invalid setting top_k (--top-k / QA_TOP_K): must be a whole number",
                "invalid setting runtime (QA_RUNTIME): must be 'auto', 'onnx' or 'torch'",
            ],
        ),
        (
            ["docs"], {"QA_QUANTIZE": "maybe", "QA_FETCH_TIMEOUT": "0"},
            [
                "invalid setting quantize (QA_QUANTIZE): must be true or false (1 or 0)",
                "invalid setting fetch_timeout (QA_FETCH_TIMEOUT): must be more than 0",
            ],
        ),
    ],
)  # fmt: skip
def test_invalid_settings_are_one_line_each(
    tmp_path: Path, command: list[str], env: dict[str, str], lines: list[str]
) -> None:
    """Each invalid setting is one line naming it, its option and variable, and what it must be."""
    done = qa(*command, index_dir=tmp_path / "index", **env)
    assert done.returncode == 1 and done.stdout == ""
    assert sorted(done.stderr.splitlines()) == sorted(f"qa: error: {line}" for line in lines)


def test_a_dotenv_key_that_is_no_setting_is_named(tmp_path: Path, seed_index_dir: Path) -> None:
    """A `.env` key with the QA_ prefix that no setting reads (a typo) is a warning naming the
    nearest setting, not silently ignored; the known keys still apply."""
    (tmp_path / ".env").write_text("# mine\nQA_TOPK=1\nQA_TOP_K=1\nOTHER_TOOL=x\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", QA_INDEX_DIR=str(seed_index_dir))
    done = subprocess.run(
        [sys.executable, "-m", "bots.cli", "ask", "--json", "When did the war start?"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "qa: WARNING: .env:2: QA_TOPK is no setting, ignored (did you mean QA_TOP_K?)" in done.stderr
    assert "OTHER_TOOL" not in done.stderr and "QA_TOP_K=" not in done.stderr
    assert len(json.loads(done.stdout)["answers"]) == 1  # QA_TOP_K=1 applies


def test_serve_on_a_port_in_use_is_one_error_line(seed_index_dir: Path) -> None:
    """`qa serve` on a port another program listens on exits 1 with one line naming the address."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = qa("serve", "--port", str(port), index_dir=seed_index_dir, timeout=120)
    assert done.returncode == 1, done.stderr
    expected = f"qa: error: address 127.0.0.1:{port} is already in use: choose another --port (QA_PORT)"
    assert done.stderr.strip() == expected


def test_telegram_chat_id_that_is_no_number_is_one_line(tmp_path: Path) -> None:
    """A QA_TELEGRAM_ALLOWED_CHATS entry that is no whole number stops `qa telegram` with one line."""
    done = qa(
        "telegram",
        index_dir=tmp_path / "index",
        QA_TELEGRAM_TOKEN="123:abc",
        QA_TELEGRAM_ALLOWED_CHATS="12, -1001, abc",
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "qa: error: invalid setting telegram_allowed_chats (QA_TELEGRAM_ALLOWED_CHATS): "
        "must be comma-separated chat ids (whole numbers): 'abc' is not one"
    ]


INTERRUPTIBLE = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as under a terminal (not inherited ignored)
from bots.cli import main
sys.argv = ["qa", "index", sys.argv[1]]
main()
"""


def test_an_interrupted_index_run_says_so_and_the_next_one_completes(tmp_path: Path) -> None:
    """Ctrl-C while `qa index` embeds: exit 130 with one line saying so (Typer ended it silently),
    nothing half written, and the next run indexes every file."""
    folder = tmp_path / "news"
    folder.mkdir()
    for n in range(200):
        (folder / f"s{n}.txt").write_text(
            f"Story {n}\n\nThe harbour board approved plan {n}. " * 3, encoding="utf-8"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", QA_INDEX_DIR=str(tmp_path / "index"))
    with subprocess.Popen(
        [sys.executable, "-c", INTERRUPTIBLE, str(folder)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    ) as run:
        assert run.stderr is not None
        lines = []
        for line in run.stderr:
            lines.append(line)
            if "embedding:" in line:
                run.send_signal(signal.SIGINT)
                break
        lines.extend(run.stderr)
        assert run.wait(timeout=120) == 130, lines
    assert lines[-1].strip() == "qa: interrupted (the index is as its last finished write left it)"
    again = qa("index", str(folder), index_dir=tmp_path / "index")
    assert again.returncode == 0, again.stderr
    assert "the index holds 200 articles" in again.stdout

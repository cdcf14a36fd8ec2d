"""`qa chat` on a terminal (a real pseudo-terminal) and the chat examples the documentation shows."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_cli import qa


def read_until(terminal: int, text: str, timeout: float = 240) -> str:
    """What the program wrote on ``terminal`` up to and including ``text`` (fails after ``timeout``)."""
    seen, deadline = "", time.monotonic() + timeout
    while text not in seen:
        ready, _, _ = select.select([terminal], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {text!r} on the terminal, only {seen!r}"
        seen += os.read(terminal, 65536).decode(errors="replace")
    return seen


def test_chat_keeps_its_history_in_the_user_data_folder(seed_index_dir: Path, tmp_path: Path) -> None:
    """On a terminal `qa chat` keeps its history in $XDG_DATA_HOME/qa-bot, not beside a chosen index."""
    leader, follower = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        HF_HUB_OFFLINE="1", QA_INDEX_DIR=str(seed_index_dir), XDG_DATA_HOME=str(tmp_path / "data"),
        TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1",
    )  # fmt: skip
    command = [sys.executable, "-m", "bots.cli", "chat"]
    with subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, env=env) as chat:
        os.close(follower)
        try:
            read_until(leader, "you>")
            os.write(leader, b"When did the war start?\r")
            answered = read_until(leader, "September 27")
            if "you>" not in answered.partition("September 27")[2]:
                read_until(leader, "you>")  # Ctrl-D ends the chat at its prompt
            os.write(leader, b"\x04")
            assert chat.wait(timeout=60) == 0
        finally:
            chat.kill()
            os.close(leader)
    history = tmp_path / "data" / "qa-bot" / "chat_history"
    assert "When did the war start?" in history.read_text(encoding="utf-8")
    assert not (seed_index_dir.parent / "chat_history").exists()


@pytest.mark.parametrize("page", ["README.md", "docs/cli.md"])
def test_chat_example_is_what_chat_prints(seed_index_dir: Path, page: str) -> None:
    """The `qa chat` transcript in the documentation is what `qa chat` prints for its questions
    (on a terminal the answer's span is highlighted, not marked «like this»)."""
    text = (REPO / page).read_text(encoding="utf-8")
    (example,) = re.findall(r"```console\n\$ qa chat\n(.*?)```", text, re.S)
    questions = [line.removeprefix("you> ") for line in example.splitlines() if line.startswith("you> ")]
    done = qa("chat", index_dir=seed_index_dir, stdin="\n".join(questions) + "\n")
    assert done.returncode == 0, done.stderr
    shown = [line for line in example.splitlines() if not line.startswith("you> ")]
    assert done.stdout.replace("«", "").replace("»", "").splitlines() == shown

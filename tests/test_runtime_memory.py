"""What a server gives back after concurrent questions: passes beside others shrink ONNX Runtime's
arena and read as a pass alone does; large freed blocks go back to the system."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from qa.answering.reader import Reader
from qa.config import Settings
from qa.runtime.embedding import bundled_model_path
from qa.runtime.memory import hand_back_large_blocks
from qa.runtime.onnx_runtime import OnnxSpanScorer
from tests.conftest import SEEDS

QUESTIONS = ("When did the war start?", "Who supplies the drones?", "Which outlet interviewed the adviser?")


def test_passes_beside_each_other_read_as_each_pass_alone() -> None:
    """Passes started together (each one shrinks the arena when it ends, having run beside others) give
    every window the scores that the same pass gives alone."""
    base = bundled_model_path()
    assert base is not None
    reader = Reader("default", str(base), "onnx", quantize=True, onnx_dir=Settings().onnx_dir)
    scorer = reader._scorer
    assert isinstance(scorer, OnnxSpanScorer)
    article = next(SEEDS.glob("*.txt")).read_text(encoding="utf-8")
    passages = [article[i : i + 1500] for i in range(0, 6000, 1500)]
    windows = [scorer.windows(question, passages) for question in QUESTIONS * 2]
    alone = [scorer.scores(w) for w in windows]
    assert scorer.passes_beside_others == 0
    start = threading.Barrier(len(windows))
    together: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(windows)

    def read(number: int) -> None:
        start.wait()
        together[number] = scorer.scores(windows[number])

    threads = [threading.Thread(target=read, args=(n,)) for n in range(len(windows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert scorer.passes_beside_others > 0
    for ours, theirs in zip(together, alone, strict=True):
        assert ours is not None
        assert all(np.allclose(a, b, rtol=0.0, atol=1e-5) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_freed_blocks_go_back_to_the_system_on_glibc() -> None:
    """On Linux with glibc the threshold is set (a C library without mallopt changes nothing)."""
    libc = Path("/proc/self/maps").read_text(encoding="utf-8")
    if "libc.so.6" not in libc:
        pytest.skip("not glibc")
    assert hand_back_large_blocks()

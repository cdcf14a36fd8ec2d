"""The light runtime: ONNX Runtime answers as torch does, without torch, and names a bad file clearly."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from qa.answering.reader import SHIPPED_WEIGHTS_SHA256, Reader
from qa.config import DEFAULT_MODEL, Settings
from qa.errors import ModelError
from qa.runtime.diagnostics import runtime_report
from qa.runtime.embedding import SentenceTransformerEmbedder, bundled_model_path
from qa.runtime.onnx_runtime import OnnxEmbedder, encoder_file, open_session, reader_file, ready
from qa.runtime.shared_tables import loaded_tables
from tests.conftest import SEEDS
from tests.test_cli import qa

QUESTION = "When did the war start?"
TEXTS = [
    QUESTION,
    "The council voted on Tuesday to approve the new bridge, which will cost 40 million dollars. " * 12,
    "Rainfall was heavy across the region.",
]
HEAVY = ("torch", "transformers", "sentence_transformers")
# What only indexing, fetching feeds and pages, watches, `qa eval` and writing need: not asking.
NOT_FOR_ASKING = (
    "httpx",
    "qa.web.fetching",
    "qa.web.sources",
    "qa.ingest.indexer",
    "qa.watching",
    "qa.eval.evaluate",
    "filelock",
    "rich.progress",
)


@pytest.fixture(scope="module")
def base() -> str:
    path = bundled_model_path()
    assert path is not None
    return str(path)


@pytest.fixture(scope="module")
def onnx_dir(base: str) -> Path:
    """The user's ONNX cache with both default files built (the first test to need them builds them)."""
    folder = Settings().onnx_dir
    OnnxEmbedder(base, DEFAULT_MODEL, folder)
    Reader("default", base, "onnx", quantize=True, onnx_dir=folder)
    return folder


def copied_cache(onnx_dir: Path, target: Path) -> Path:
    """A private copy of the built ONNX files (and their records), to damage without harming others;
    the files dated as built a minute ago, so that a load remembers them as verified."""
    target.mkdir()
    for onnx in (encoder_file(onnx_dir), reader_file(onnx_dir, SHIPPED_WEIGHTS_SHA256, True)):
        for path in (onnx.path, onnx.record):
            shutil.copyfile(path, target / path.name)
        settled(target / onnx.path.name)
    return target


def settled(path: Path, seconds_ago: int = 60) -> None:
    """Date the file's last modification back (a file changed within 2 s is not remembered)."""
    past = time.time_ns() - seconds_ago * 1_000_000_000
    os.utime(path, ns=(past, past))


def test_question_and_passage_vectors_agree_with_sentence_transformers(base: str, onnx_dir: Path) -> None:
    """One model file, two libraries: the ONNX encoder's vectors are sentence-transformers' vectors, so an
    index built with either answers with either."""
    onnx = OnnxEmbedder(base, DEFAULT_MODEL, onnx_dir)
    torch_model = SentenceTransformerEmbedder(DEFAULT_MODEL, "cpu")
    assert np.abs(onnx.encode(TEXTS) - torch_model.encode(TEXTS)).max() < 1e-5
    sentences = [[(0, 4), (5, 23)], [(0, 92), (93, 400), (900, 1100)], [(0, 37)]]
    onnx_passages, onnx_sentences = onnx.encode_passages(TEXTS, sentences)
    torch_passages, torch_sentences = torch_model.encode_passages(TEXTS, sentences)
    assert np.abs(onnx_passages - torch_passages).max() < 1e-5
    for ours, theirs in zip(onnx_sentences, torch_sentences, strict=True):
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() < 1e-5


def test_onnx_reader_reads_as_the_torch_reader(base: str, onnx_dir: Path) -> None:
    """The same windows (long passages overlap as in training) and, in fp32, the same readings."""
    article = next(SEEDS.glob("*.txt")).read_text(encoding="utf-8")
    passages = [article[:3000], article[3000:4500], "1987 1988 1989\n12.5 13.1 14.0", article[:200]]
    torch_reader = Reader("default", base, "torch")
    fp32 = Reader("default", base, "onnx", quantize=False, onnx_dir=onnx_dir)
    windows = fp32._scorer.windows(QUESTION, passages)
    assert windows == torch_reader._scorer.windows(QUESTION, passages)
    assert len(windows.owners) > len(passages)  # the long passage was read in several windows
    long = QUESTION + " And what about the drones?" * 30  # both read its first 64 word pieces alike
    assert fp32._scorer.windows(long, passages) == torch_reader._scorer.windows(long, passages)
    ours, theirs = fp32.read(QUESTION, passages), torch_reader.read(QUESTION, passages)
    assert [(r.passage, r.start, r.end) for r in ours] == [(r.passage, r.start, r.end) for r in theirs]
    for mine, other in zip(ours, theirs, strict=True):
        assert (
            abs(mine.span_logit - other.span_logit) < 1e-3 and abs(mine.null_logit - other.null_logit) < 1e-3
        )


def test_the_onnx_files_are_fused_and_the_reader_int8_through_attention(base: str, onnx_dir: Path) -> None:
    """The files are made as docs/runtime.md says: every layer's attention, layer norms and GELU fused
    (the optimizer leaves what it does not recognise as it was, so only this would notice a trace it
    stopped recognising), and the int8 reader quantized through attention's projections."""
    import onnx

    config = json.loads((Path(base) / "config.json").read_text(encoding="utf-8"))
    layers = config["num_hidden_layers"]
    reader = onnx.load(str(reader_file(onnx_dir, SHIPPED_WEIGHTS_SHA256, True).path))
    encoder = onnx.load(str(encoder_file(onnx_dir).path))
    reader_ops = Counter(node.op_type for node in reader.graph.node)
    encoder_ops = Counter(node.op_type for node in encoder.graph.node)
    assert reader_ops["QAttention"] == layers and reader_ops["MatMulInteger"] >= 3 * layers
    assert reader_ops["MatMul"] == 0 and reader_ops["Attention"] == 0  # nothing left in fp32
    assert encoder_ops["Attention"] == layers
    for ops in (reader_ops, encoder_ops):
        assert ops["SkipLayerNormalization"] == 2 * layers and ops["BiasGelu"] == layers
        assert ops["EmbedLayerNormalization"] == 1 and ops["Softmax"] == 0


def test_the_encoder_and_the_reader_share_one_embedding_table(base: str, onnx_dir: Path) -> None:
    """Both files hold the base model's word embeddings (the reader never trains them): each record
    says where, with the same digest, and a process holds the table once; the reader reads exactly
    as a session with its own copy does."""
    encoder, reader = encoder_file(onnx_dir), reader_file(onnx_dir, SHIPPED_WEIGHTS_SHA256, True)
    tables = [encoder.recorded_table(), reader.recorded_table()]
    assert tables[0] is not None and tables[1] is not None and tables[0]["sha256"] == tables[1]["sha256"]
    for file, table in zip((encoder, reader), tables, strict=True):
        assert table is not None
        with file.path.open("rb") as stream:
            stream.seek(table["offset"])
            raw = stream.read(4 * int(np.prod(table["shape"])))
        assert hashlib.sha256(raw).hexdigest() == table["sha256"]
    OnnxEmbedder(base, DEFAULT_MODEL, onnx_dir)
    shared = Reader("default", base, "onnx", quantize=True, onnx_dir=onnx_dir)
    assert loaded_tables() == 1
    article = next(SEEDS.glob("*.txt")).read_text(encoding="utf-8")
    windows = shared._scorer.windows(QUESTION, [article[:3000], article[3000:4500]])
    ids, mask, types = windows.padded()
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    own = open_session(reader.path).run(["start", "end"], feed)  # its own copy of the table
    for ours, theirs in zip(shared._scorer.scores(windows), own, strict=True):
        assert np.array_equal(ours, theirs)


def heavy_modules_after(
    argv: list[str], index_dir: Path, modules: tuple[str, ...] = HEAVY
) -> subprocess.CompletedProcess[str]:
    """Run the ``qa`` command line in a fresh process; its stdout ends with those of ``modules`` (the
    heavy ones unless given) it loaded."""
    probe = (
        f"import sys\nfrom bots.cli import main\nsys.argv = {['qa', *argv]!r}\n"
        "try:\n    main()\nexcept SystemExit as end:\n    assert not end.code, end.code\n"
        f"print('HEAVY', sorted(m for m in {modules!r} if m in sys.modules))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "QA_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"},
        timeout=240,
        check=False,
    )


def test_asking_imports_neither_torch_nor_transformers(seed_index_dir: Path, onnx_dir: Path) -> None:
    """`qa ask` on a built index answers with ONNX Runtime alone."""
    done = heavy_modules_after(["ask", QUESTION], seed_index_dir)
    assert done.returncode == 0, done.stderr
    assert "September 27" in done.stdout
    assert "HEAVY []" in done.stdout, done.stdout


def test_asking_imports_nothing_only_other_commands_need(seed_index_dir: Path, onnx_dir: Path) -> None:
    """`qa ask` on a built index starts without the web stack, the indexer, the watches, `qa eval` or
    the write lock: those load with the commands that use them."""
    done = heavy_modules_after(["ask", QUESTION], seed_index_dir, NOT_FOR_ASKING)
    assert done.returncode == 0, done.stderr
    assert "September 27" in done.stdout
    assert "HEAVY []" in done.stdout, done.stdout


def test_indexing_imports_neither_torch_nor_transformers(tmp_path: Path, onnx_dir: Path) -> None:
    """`qa index` embeds with the same ONNX file, and spaCy's sentencizer comes without torch."""
    done = heavy_modules_after(["index", str(SEEDS)], tmp_path / "index")
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout
    assert "the index holds 1 articles" in done.stdout


def test_an_index_built_on_torch_keeps_answering(tmp_path: Path, onnx_dir: Path) -> None:
    """An index made by the torch encoder (every index before the ONNX runtime) answers on ONNX Runtime
    with the same answer, without being rebuilt."""
    index = tmp_path / "index"
    built = qa("index", str(SEEDS), index_dir=index, QA_RUNTIME="torch")
    assert built.returncode == 0, built.stderr
    on_torch = qa("ask", "--json", QUESTION, index_dir=index, QA_RUNTIME="torch")
    on_onnx = qa("ask", "--json", QUESTION, index_dir=index)
    assert on_torch.returncode == 0 and on_onnx.returncode == 0, on_onnx.stderr
    first = json.loads(on_onnx.stdout)["answers"][0]
    assert first["text"] == json.loads(on_torch.stdout)["answers"][0]["text"]
    assert "September 27" in first["text"]


def test_a_damaged_onnx_file_is_one_line_and_doctor_rebuilds_it(
    seed_index_dir: Path, onnx_dir: Path, tmp_path: Path
) -> None:
    """A changed byte after a load remembered the file as verified: `qa ask` names the file and the
    command that rebuilds it (no traceback, no other model); `qa doctor` says which file; `qa doctor
    --rebuild` makes it again, with no memo of the old file left, and answers work."""
    cache = copied_cache(onnx_dir, tmp_path / "onnx")
    env = {"QA_ONNX_DIR": str(cache)}
    first = qa("ask", QUESTION, index_dir=seed_index_dir, **env)
    assert first.returncode == 0, first.stderr
    reader = reader_file(cache, SHIPPED_WEIGHTS_SHA256, True)
    assert reader.memo.is_file() and encoder_file(cache).memo.is_file()
    damaged = reader.path
    with damaged.open("r+b") as handle:
        handle.seek(damaged.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    asked = qa("ask", QUESTION, index_dir=seed_index_dir, **env)
    assert asked.returncode == 1
    lines = asked.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in asked.stderr, asked.stderr
    assert str(damaged) in lines[0] and "SHA-256" in lines[0] and "qa doctor --rebuild" in lines[0]
    report = qa("doctor", "--json", index_dir=seed_index_dir, **env)
    assert report.returncode == 1
    statuses = {Path(f["path"]).name: f["status"] for f in json.loads(report.stdout)["files"]}
    assert statuses[damaged.name] == "mismatch"
    assert statuses[encoder_file(cache).path.name] == "ok"
    rebuilt = qa("doctor", "--rebuild", index_dir=seed_index_dir, **env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert not reader.memo.exists() and not encoder_file(cache).memo.exists()
    again = qa("ask", QUESTION, index_dir=seed_index_dir, **env)
    assert again.returncode == 0 and "September 27" in again.stdout, again.stderr


def test_a_file_onnx_runtime_cannot_load_is_one_clear_error(
    base: str, onnx_dir: Path, tmp_path: Path
) -> None:
    """A truncated file whose record matches it (made by a broken build), after a load remembered the whole
    file as verified: ONNX Runtime's refusal becomes a ModelError that names the file and the rebuild
    command."""
    cache = copied_cache(onnx_dir, tmp_path / "onnx")
    Reader("default", base, "onnx", quantize=True, onnx_dir=cache)
    broken = reader_file(cache, SHIPPED_WEIGHTS_SHA256, True)
    assert broken.memo.is_file()
    broken.path.write_bytes(broken.path.read_bytes()[:4096])
    from qa.answering.reader import file_sha256

    record = json.loads(broken.record.read_text())
    broken.record.write_text(json.dumps(record | {"sha256": file_sha256(broken.path)}))
    with pytest.raises(ModelError, match="ONNX Runtime cannot load") as caught:
        Reader("default", base, "onnx", quantize=True, onnx_dir=cache)
    assert str(broken.path) in str(caught.value) and "qa doctor --rebuild" in str(caught.value)


def test_a_verified_file_is_not_read_again_until_it_changes(
    base: str, onnx_dir: Path, tmp_path: Path
) -> None:
    """A load whose hash matched remembers the file; the next load with the same record digest and the
    same file identity does not read it (a record and a memo that agree on a wrong digest are believed,
    which a hash would refute), touching the file makes the next load hash it in full again, and `qa
    doctor` always hashes in full. A file modified within 2 s is not remembered."""
    file = encoder_file(copied_cache(onnx_dir, tmp_path / "onnx"))
    os.utime(file.path)  # just modified
    assert ready(file, base) == file.path and not file.memo.exists()
    settled(file.path)
    assert ready(file, base) == file.path
    memo = json.loads(file.memo.read_text())
    assert memo["sha256"] == file.recorded_sha256() and memo["size"] == file.path.stat().st_size
    wrong = "0" * 64
    file.record.write_text(json.dumps(json.loads(file.record.read_text()) | {"sha256": wrong}))
    with pytest.raises(ModelError, match="does not match the SHA-256"):
        ready(file, base)  # the record's digest is not the one remembered: hashed in full
    file.memo.write_text(json.dumps(memo | {"sha256": wrong}))
    assert ready(file, base) == file.path  # remembered as is: not read
    report = runtime_report(Settings(onnx_dir=file.path.parent))
    assert {f.path: f.status for f in report.files}[file.path] == "mismatch"
    settled(file.path, seconds_ago=30)  # the same bytes, another modification time
    with pytest.raises(ModelError, match="does not match the SHA-256"):
        ready(file, base)


def test_a_memo_that_cannot_be_written_does_not_stop_a_load(
    base: str, onnx_dir: Path, tmp_path: Path
) -> None:
    """Where the memo cannot be written (a folder in its place, as a read-only cache refuses it), every
    load hashes the file and answers, and leaves no scratch file behind."""
    cache = copied_cache(onnx_dir, tmp_path / "onnx")
    file = encoder_file(cache)
    file.memo.mkdir()
    assert ready(file, base) == file.path
    assert ready(file, base) == file.path
    assert file.memo.is_dir() and not list(cache.glob("*.tmp"))


def test_doctor_names_the_runtime_and_every_file(seed_index_dir: Path, onnx_dir: Path) -> None:
    """`qa doctor` prints the runtime, the versions and each model file with its SHA-256."""
    done = qa("doctor", index_dir=seed_index_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("runtime: onnx")
    assert SHIPPED_WEIGHTS_SHA256 in done.stdout
    assert str(encoder_file(onnx_dir).path) in done.stdout
    on_torch = qa("doctor", "--json", index_dir=seed_index_dir, QA_RUNTIME="torch")
    data = json.loads(on_torch.stdout)
    assert data["runtime"] == "torch" and not any(f["role"].startswith("onnx") for f in data["files"])


def test_an_onnx_runtime_that_cannot_load_is_one_clear_line(
    seed_index_dir: Path, onnx_dir: Path, tmp_path: Path
) -> None:
    """An ONNX Runtime whose native library cannot load on this machine (stood in for by a package of
    that name that fails as a broken install does): one line saying so and what to do, exit 1."""
    broken = tmp_path / "site" / "onnxruntime"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        'raise ImportError("libonnxruntime.so.1: cannot open shared object file")\n'
    )
    asked = qa("ask", QUESTION, index_dir=seed_index_dir, PYTHONPATH=str(broken.parent))
    assert asked.returncode == 1
    lines = asked.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in asked.stderr, asked.stderr
    assert "ONNX Runtime cannot be loaded" in lines[0] and "QA_RUNTIME=torch" in lines[0]

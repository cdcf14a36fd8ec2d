"""ONNX Runtime: the models of the query path (the one module that imports onnxruntime and tokenizers).

The bundled all-MiniLM-L6-v2 encodes questions and passages (``OnnxEmbedder``) and the trained reader
scores spans (``OnnxSpanScorer``) from ONNX files made once from the same weights (``qa.runtime.onnx_build``),
each checked against the SHA-256 recorded when it was made: neither torch nor transformers is
imported to answer a question.

What every load checks, as git's index does for a file: once a file's SHA-256 has matched its record,
its identity is remembered beside it (``<file>.verified``: that digest with the file's size, times of
modification and change in ns, inode and device); a later load that finds the same digest in the
record and the same identity on disk does not read the file again, and any other load hashes it in
full (and remembers it again when it matches). Any change made through the filesystem (a rewrite, a
truncation, a changed byte, another file in its place) changes that identity, so the file is hashed
in full again. A file modified less than 2 s before it was checked is not remembered: a write within
the same tick of the filesystem's clock need not change its times. The memo is only ever an
optimisation: one that cannot be read or written (a read-only cache) means hashing every time, and
``qa doctor`` always hashes every file in full.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from qa.answering.reader import (
    QUESTION_TOKENS,
    Logits,
    ReaderConfig,
    Windows,
    fitted_question,
    padded,
    passage_offsets,
)
from qa.errors import ModelError
from qa.runtime.embedding import (
    BUNDLED_MODEL_SHA256,
    Progress,
    Vectors,
    file_sha256,
    normalize_rows,
    pool_sentences,
    verify_model_files,
)
from qa.runtime.onnx_build import REBUILD, OnnxFile, build, onnx_file
from qa.runtime.shared_tables import initializers

logger = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
ENCODER_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json)
# Texts per forward pass when indexing: 16 took 30% more memory for 4% more speed (docs/runtime.md).
BATCH_SIZE = 8
# A file modified this recently is not remembered as verified: a later write in the same tick of the
# filesystem's clock (coarse: up to 2 s on FAT) could leave its times as they were.
SETTLED_NS = 2_000_000_000


def runtime_module() -> Any:
    """``onnxruntime``, or ``ModelError`` in one line when it cannot be loaded on this machine."""
    try:
        import onnxruntime
    except (ImportError, OSError) as exc:
        raise ModelError(
            f"ONNX Runtime cannot be loaded ({exc}): reinstall it with `pip install --force-reinstall "
            "onnxruntime`, or answer on torch with QA_RUNTIME=torch"
        ) from exc
    return onnxruntime


def ready(file: OnnxFile, base_path: str, reader_weights: Path | None = None) -> Path:
    """The file's path, built first when it was never made; ``ModelError`` when it no longer matches
    the SHA-256 recorded when it was made (never a silent rebuild or another model); hashed in full
    unless remembered as verified and unchanged since (the module's docstring)."""
    expected = file.recorded_sha256()
    if expected is None or not file.path.is_file():
        build(file, base_path, reader_weights)
        expected = file.recorded_sha256()
    if not file.path.is_file():
        raise ModelError(f"ONNX file missing: {file.path} (rebuild it with `{REBUILD}`)")
    seen = file.path.stat()  # before reading: a write during the hash leaves times other than these
    if _remembered(file, expected, seen):
        return file.path
    digest = file_sha256(file.path)
    if digest != expected:
        raise ModelError(
            f"ONNX file {file.path} does not match the SHA-256 recorded when it was built "
            f"(expected {str(expected)[:12]}…, got {digest[:12]}…): rebuild it with `{REBUILD}`"
        )
    _remember(file, digest, seen)
    return file.path


def _identity(digest: str, stat: os.stat_result) -> dict[str, str | int]:
    """What a memo holds: the recorded digest and everything a change through the filesystem alters."""
    return {
        "sha256": digest,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "ctime_ns": stat.st_ctime_ns,
        "inode": stat.st_ino,
        "device": stat.st_dev,
    }


def _remembered(file: OnnxFile, expected: str | None, seen: os.stat_result) -> bool:
    """True when the memo beside the file holds the record's digest and the file's identity as it is."""
    if expected is None:
        return False
    try:
        return bool(json.loads(file.memo.read_text(encoding="utf-8")) == _identity(expected, seen))
    except (OSError, ValueError):  # none yet, unreadable or half-written: hash in full
        return False


def _remember(file: OnnxFile, digest: str, seen: os.stat_result) -> None:
    """Write the memo atomically; never fails the load (a read-only cache is hashed on every load)."""
    if time.time_ns() - seen.st_mtime_ns < SETTLED_NS:
        return
    scratch = file.memo.with_name(f"{file.memo.name}.{os.getpid()}.tmp")
    try:
        scratch.write_text(json.dumps(_identity(digest, seen)) + "\n", encoding="utf-8")
        os.replace(scratch, file.memo)
    except OSError as exc:
        logger.debug("cannot remember that %s was verified: %s", file.path, exc)
        with suppress(OSError):
            scratch.unlink(missing_ok=True)


def open_session(path: Path, file: OnnxFile | None = None) -> Any:
    """An ONNX Runtime session on the CPU, taking the tables it shares with the process's other
    sessions (``qa.runtime.shared_tables``, when ``file`` is the verified file at ``path``) instead of
    its own copies; ``ModelError`` naming the file when it cannot load."""
    ort = runtime_module()
    options = ort.SessionOptions()
    for name, value in (initializers(file, ort) if file is not None else {}).items():
        options.add_initializer(name, value)
    # Shapes change with every question: a memory plan cached per shape only grows the process.
    options.enable_mem_pattern = False
    options.log_severity_level = 3  # errors only: the optimizer's notes are not the user's business
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a bad or truncated file
        raise ModelError(f"ONNX Runtime cannot load {path}: {exc} (rebuild it with `{REBUILD}`)") from exc


def load_tokenizer(base_path: str, verify: bool = True) -> Any:
    """The base model's word-piece tokenizer, without the padding and truncation its file sets; with
    ``verify``, checked against its pinned SHA-256 (the only file of the bundled model that answering
    reads: the weights are in the ONNX files, checked on their own)."""
    from tokenizers import Tokenizer

    path = Path(base_path) / TOKENIZER_FILE
    if verify:
        verify_model_files(Path(base_path), {TOKENIZER_FILE: BUNDLED_MODEL_SHA256[TOKENIZER_FILE]})
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a plain Exception for a bad file
        raise ModelError(f"cannot read the tokenizer {path}: {exc}") from exc
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def encoder_file(onnx_dir: Path) -> OnnxFile:
    """The cached ONNX file of the bundled encoder."""
    return onnx_file(onnx_dir, "encoder", BUNDLED_MODEL_SHA256["model.safetensors"], "fp32")


def reader_file(onnx_dir: Path, weights_sha256: str, quantize: bool) -> OnnxFile:
    """The cached ONNX file of a reader's weights, int8 or fp32."""
    return onnx_file(onnx_dir, "reader", weights_sha256, "int8" if quantize else "fp32")


class OnnxEmbedder:
    """The bundled all-MiniLM-L6-v2 on ONNX Runtime behind the ``Embedder`` protocol: mean of the token
    vectors, normalized, as sentence-transformers computes it (the same vectors, to 1e-6)."""

    def __init__(
        self, base_path: str, name: str, onnx_dir: Path, batch_size: int = 0, verify: bool = True
    ) -> None:
        self.file = encoder_file(onnx_dir)
        self._session = open_session(ready(self.file, base_path), self.file)
        self._tokenizer = load_tokenizer(base_path, verify)
        self._tokenizer.enable_truncation(ENCODER_MAX_TOKENS)
        self._name = name
        self._batch_size = batch_size or BATCH_SIZE
        self._dimension = int(self._session.get_outputs()[0].shape[-1])
        logger.info("loaded embedding model %s on ONNX Runtime (dimension %d)", name, self._dimension)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _batches(self, texts: list[str], progress: Progress | None) -> Iterator[tuple[int, Any, Vectors]]:
        """``(text index, its encoding, its token vectors)`` for every text, longest texts first."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        for begin in range(0, len(order), self._batch_size):
            batch = order[begin : begin + self._batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in batch])
            ids, mask, types = padded([e.ids for e in encodings], [e.type_ids for e in encodings])
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            tokens = self._session.run(None, feed)[0]
            for row, (i, encoding) in enumerate(zip(batch, encodings, strict=True)):
                yield i, encoding, tokens[row, : len(encoding.ids)].astype(np.float32, copy=False)
            if progress is not None:
                progress(min(begin + self._batch_size, len(order)), len(order), "embedding")

    def encode(self, texts: list[str], progress: Progress | None = None) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i, _, tokens in self._batches(texts, progress):
            out[i] = tokens.mean(axis=0)
        return normalize_rows(out)

    def encode_passages(
        self, texts: list[str], sentences: list[list[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[Vectors, list[Vectors]]:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        pooled: list[Vectors] = [np.zeros((0, self._dimension), dtype=np.float32)] * len(texts)
        for i, encoding, tokens in self._batches(texts, progress):
            out[i] = tokens.mean(axis=0)
            pooled[i] = pool_sentences(tokens, [tuple(o) for o in encoding.offsets], sentences[i])
        return normalize_rows(out), pooled


class OnnxSpanScorer:
    """The trained reader on ONNX Runtime (int8 weights unless ``quantize`` is off); thread-safe."""

    def __init__(
        self,
        base_path: str,
        weights: Path,
        weights_sha256: str,
        config: ReaderConfig,
        quantize: bool,
        onnx_dir: Path,
        verify: bool = True,
    ) -> None:
        self.file = reader_file(onnx_dir, weights_sha256, quantize)
        self._session = open_session(ready(self.file, base_path, weights), self.file)
        self._tokenizer = load_tokenizer(base_path, verify)
        self._tokenizer.enable_truncation(config.max_length, stride=config.stride, strategy="only_second")
        self._pieces_tokenizer: Any = None
        # A pass that runs beside others hands the arena's unused blocks back when it ends, so a burst
        # of concurrent questions does not leave the server holding the memory of its busiest moment
        # (qa/runtime/memory.py); a pass alone keeps them, for the next question's pass to reuse.
        self._shrink = runtime_module().RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._passes = 0  # passes running now
        self._passes_lock = threading.Lock()
        self.passes_beside_others = 0  # passes that shrank the arena when they ended, since loading

    def windows(self, question: str, passages: Sequence[str]) -> Windows:
        if len(question) > QUESTION_TOKENS:  # else it cannot be longer: a word piece holds a character
            pieces = self._pieces.encode(question, add_special_tokens=False)
            question = fitted_question(question, pieces.offsets)
        ids, types, owners, offsets = [], [], [], []
        for owner, first in enumerate(self._tokenizer.encode_batch([(question, p) for p in passages])):
            for encoding in (first, *first.overflowing):
                ids.append(encoding.ids)
                types.append(encoding.type_ids)
                owners.append(owner)
                offsets.append(passage_offsets(encoding.sequence_ids, encoding.offsets))
        return Windows(ids, types, owners, offsets)

    @property
    def _pieces(self) -> Any:
        """The tokenizer without its windows' truncation, to count a long question's word pieces
        (made on first need: most questions are shorter than the count that matters)."""
        if self._pieces_tokenizer is None:
            pieces = type(self._tokenizer).from_str(self._tokenizer.to_str())
            pieces.no_truncation()
            self._pieces_tokenizer = pieces
        return self._pieces_tokenizer

    def scores(self, windows: Windows) -> tuple[Logits, Logits]:
        ids, mask, types = windows.padded()
        with self._passes_lock:
            self._passes += 1
            beside_others = self._passes > 1
            self.passes_beside_others += beside_others
        try:
            start, end = self._session.run(
                ["start", "end"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
                self._shrink if beside_others else None,
            )
        finally:
            with self._passes_lock:
                self._passes -= 1
        return start.astype(np.float32, copy=False), end.astype(np.float32, copy=False)

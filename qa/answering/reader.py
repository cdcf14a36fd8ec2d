"""The trained reader: question + passages in, the best answer span of each passage and a no-answer score out.

The one module that imports transformers for reading. The model is the bundled all-MiniLM-L6-v2
encoder with its transformer layers fine-tuned for extractive QA (SQuAD 2.0 style: a start and an
end score for every passage token, the ``[CLS]`` token standing for "no answer") by
``bench/train_reader.py``; only the trained layers and the span head are shipped (fp16, pinned by
SHA-256), loaded over the packaged base model, whose embeddings they were trained against.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from qa.errors import ModelError
from qa.runtime.embedding import file_sha256  # re-exported: bench and tests check weights with it
from qa.text import stem_terms

logger = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_READER = "default"
WEIGHTS_FILE = "reader.safetensors"
CONFIG_FILE = "reader.json"
MAX_ANSWER_TOKENS = 30  # longest span considered, in word pieces
SPAN_CHOICES = 20  # best spans of a window tried, in order, for the first ``acceptable`` one
# Word pieces of a question the reader reads at most (transformers' QA pipeline reads 64): the rest of
# each window is the passage's. Retrieval reads the whole question.
QUESTION_TOKENS = 64
# The reader shipped in qa/weights (bench/train_reader.py, then bench/calibrate_reader.py): a changed
# file is an error, never a silently different model. Another reader folder is checked against the
# SHA-256 its own reader.json records.
SHIPPED_WEIGHTS_SHA256 = "035253119e490c4f46521324a495a5eefb8e333610167cea0ce5f6e8a16f308f"

Logits = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """How the shipped weights were trained and how their scores are calibrated (``reader.json``)."""

    base_model: str
    max_length: int
    stride: int
    weights_sha256: str
    calibration: dict[str, float]  # logistic weights over a reading's evidence, see ``qa.answering.answers``
    threshold: float  # default abstention threshold on the calibrated probability
    trained_on: str = ""

    @classmethod
    def load(cls, folder: Path) -> ReaderConfig:
        """Read ``reader.json`` from a reader folder; ``ModelError`` when missing or malformed."""
        path = folder / CONFIG_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                base_model=str(data["base_model"]),
                max_length=int(data["max_length"]),
                stride=int(data["stride"]),
                weights_sha256=str(data["weights_sha256"]),
                calibration={str(k): float(v) for k, v in data["calibration"].items()},
                threshold=float(data["threshold"]),
                trained_on=str(data.get("trained_on", "")),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"cannot read the reader's settings {path}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Reading:
    """The reader's verdict on one passage: its best span (characters) and the two scores."""

    passage: int  # index into the passages read
    start: int
    end: int
    span_logit: float  # start + end score of the best span
    null_logit: float  # start + end score of "no answer" ([CLS])

    @property
    def margin(self) -> float:
        """How much the span beats "no answer" (a log-odds difference)."""
        return self.span_logit - self.null_logit


def reader_folder(setting: str) -> Path:
    """The folder of a reader setting: ``default`` is the one shipped in the package, else a path."""
    folder = WEIGHTS_DIR if setting == DEFAULT_READER else Path(setting).expanduser()
    if not (folder / CONFIG_FILE).is_file():
        raise ModelError(f"no reader in {folder} (it needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    return folder


def fitted_question(question: str, offsets: Sequence[tuple[int, int]], limit: int = QUESTION_TOKENS) -> str:
    """``question`` cut after its ``limit``-th word piece (``offsets``: each piece's characters). A
    longer question would leave its windows no room for the passage: the tokenizer refuses such a
    pair, and a 700-character question ended in a traceback."""
    return question if len(offsets) <= limit else question[: offsets[limit - 1][1]]


def encode_pairs(
    tokenizer: Any, questions: Sequence[str], contexts: Sequence[str], max_length: int, stride: int
) -> Any:
    """Tokenize (question, context) pairs into windows with character offsets (long contexts overlap)."""
    return tokenizer(
        list(questions),
        list(contexts),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


def top_spans(
    start: Logits,
    end: Logits,
    offsets: Sequence[tuple[int, int] | None],
    count: int = 1,
    max_tokens: int = MAX_ANSWER_TOKENS,
) -> list[tuple[int, int, float]]:
    """The ``count`` best ``(start char, end char, score)`` spans over context tokens, best first.

    ``offsets[i]`` is the token's character range in the context, None for question and special tokens."""
    context = np.array([o is not None for o in offsets])
    if not context.any():
        return []
    s = np.where(context, start, -np.inf)
    e = np.where(context, end, -np.inf)
    n = len(offsets)
    # scores[i, j] = s[i] + e[j] for i <= j < i + max_tokens
    scores = s[:, None] + e[None, :]
    band = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), k=max_tokens)
    flat = np.where(band, scores, -np.inf).ravel()
    count = min(count, flat.size)
    best = np.argpartition(-flat, count - 1)[:count]
    spans = []
    for index in best[np.argsort(-flat[best], kind="stable")]:
        value = float(flat[index])
        if not np.isfinite(value):
            break
        i, j = divmod(int(index), n)
        first, last = offsets[i], offsets[j]
        assert first is not None and last is not None
        spans.append((first[0], last[1], value))
    return spans


def best_span(
    start: Logits, end: Logits, offsets: Sequence[tuple[int, int] | None], max_tokens: int = MAX_ANSWER_TOKENS
) -> tuple[int, int, float] | None:
    """``(start char, end char, score)`` of the best span over context tokens, None when there is none."""
    spans = top_spans(start, end, offsets, 1, max_tokens)
    return spans[0] if spans else None


def content_stems(text: str) -> set[str]:
    """The stems of a text's content words, possessives folded in ("IBM's" is "IBM")."""
    return {stem.rstrip("'’") for stem in stem_terms(text)} - {""}


def acceptable(span_text: str, question_stems: set[str]) -> bool:
    """A span can be an answer: it stays inside one paragraph and says something the question does not
    (a span of only the question's own words, or of no content word at all, never answers it).
    ``question_stems``: ``content_stems`` of the question."""
    if "\n" in span_text.strip():
        return False
    stems = content_stems(span_text)
    return bool(stems) and not stems <= question_stems


def context_offsets(encoding: Any, window: int) -> list[tuple[int, int] | None]:
    """The character offsets of a window's context tokens (None for question and special tokens)."""
    return passage_offsets(encoding.sequence_ids(window), encoding["offset_mapping"][window])


def passage_offsets(
    sequence_ids: Sequence[int | None], offsets: Sequence[tuple[int, int]]
) -> list[tuple[int, int] | None]:
    """Each token's character range in the passage (the pair's second text), None for the others."""
    return [
        (int(a), int(b)) if sid == 1 and b > a else None
        for sid, (a, b) in zip(sequence_ids, offsets, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class Windows:
    """(question, passage) pairs as the reader's model reads them: long passages in overlapping windows."""

    ids: list[list[int]]
    type_ids: list[list[int]]
    owners: list[int]  # the passage each window belongs to
    offsets: list[list[tuple[int, int] | None]]  # each token's character range in its passage, or None

    def padded(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Token ids, attention mask and token types, padded to the longest window."""
        return padded(self.ids, self.type_ids)


def padded(
    ids: Sequence[Sequence[int]], type_ids: Sequence[Sequence[int]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows of token ids and token types as a model's inputs: ids, attention mask and types, padded
    with zeros to the longest row."""
    width = max(len(row) for row in ids)
    out = np.zeros((len(ids), width), dtype=np.int64)
    types = np.zeros_like(out)
    mask = np.zeros_like(out)
    for row, (tokens, kinds) in enumerate(zip(ids, type_ids, strict=True)):
        out[row, : len(tokens)] = tokens
        types[row, : len(kinds)] = kinds
        mask[row, : len(tokens)] = 1
    return out, mask, types


class SpanScorer(Protocol):
    """A runtime for the reader's model: ONNX Runtime (``onnx_runtime``) or torch (``reader_torch``)."""

    def windows(self, question: str, passages: Sequence[str]) -> Windows:
        """The windows of each (question, passage) pair, in passage order."""

    def scores(self, windows: Windows) -> tuple[Logits, Logits]:
        """Start and end scores of every window's tokens (padded to the longest), one forward pass."""


class Reader:
    """The trained span reader over the bundled base model; thread-safe, loaded once.

    ``runtime``: ``onnx`` (ONNX Runtime, ``quantize`` picks int8 weights) or ``torch`` (``device``);
    ``verify``: check the base model's files that this runtime reads against their pinned SHA-256."""

    def __init__(
        self,
        setting: str,
        base_path: str,
        runtime: str = "onnx",
        device: str = "cpu",
        quantize: bool = True,
        onnx_dir: Path | None = None,
        verify: bool = True,
    ) -> None:
        folder = reader_folder(setting)
        self.config = ReaderConfig.load(folder)
        weights = folder / WEIGHTS_FILE
        if not weights.is_file():
            raise ModelError(f"reader weights missing: {weights}")
        digest = file_sha256(weights)
        pinned = SHIPPED_WEIGHTS_SHA256 if folder.resolve() == WEIGHTS_DIR else self.config.weights_sha256
        if digest != pinned:
            raise ModelError(
                f"reader weights {weights} do not match their pinned SHA-256 "
                f"(expected {pinned[:12]}…, got {digest[:12]}…)"
            )
        self._scorer: SpanScorer
        if runtime == "torch":
            from qa.runtime.reader_torch import TorchSpanScorer

            self._scorer = TorchSpanScorer(base_path, weights, self.config, device)
        else:
            from qa.config import default_onnx_dir
            from qa.runtime.onnx_runtime import OnnxSpanScorer

            cache = onnx_dir or default_onnx_dir()
            self._scorer = OnnxSpanScorer(base_path, weights, digest, self.config, quantize, cache, verify)
        self.runtime = runtime
        logger.info("loaded reader %s (%s)", folder, runtime)

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        """One reading per passage (its best span across its windows), in one batched forward pass."""
        if not passages:
            return []
        windows = self._scorer.windows(question, passages)
        starts, ends = self._scorer.scores(windows)
        asked = content_stems(question)
        best: dict[int, Reading] = {}
        for window, owner in enumerate(windows.owners):
            length = len(windows.ids[window])
            start, end = starts[window, :length], ends[window, :length]
            spans = top_spans(start, end, windows.offsets[window], SPAN_CHOICES)
            null = float(start[0] + end[0])
            text = passages[owner]
            span = next((c for c in spans if acceptable(text[c[0] : c[1]], asked)), None)
            if span is None:  # only punctuation or the question's own words: nothing to answer with
                continue
            reading = Reading(owner, span[0], span[1], span[2], null)
            kept = best.get(owner)
            if kept is None or reading.margin > kept.margin:
                best[owner] = reading
        return [best[i] for i in sorted(best)]

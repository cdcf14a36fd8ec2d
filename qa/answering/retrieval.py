"""Question → ranked passages: dense (FAISS) and keyword (BM25 over FTS5) search, fused."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from qa.models import Mode, Passage, TimeWindow
from qa.runtime.embedding import Embedder
from qa.store import Ids, Snapshot, Store, Vectors
from qa.text import STOPWORDS, name_terms, stem_terms, stemmer, words

__all__ = [
    "DEFAULT_WEIGHTS",
    "FusionWeights",
    "Mode",
    "Retrieved",
    "Retriever",
    "idf_weights",
    "keyword_scores",
    "keyword_terms",
    "retrieve",
    "stem_terms",
]


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """Calibrated fusion: passage score = sigmoid(dense·cos + keyword·bm25_rel + bias)."""

    dense: float = 6.0
    keyword: float = 3.0
    bias: float = -5.0
    candidates: int = 50  # taken from each side before fusing


DEFAULT_WEIGHTS = FusionWeights()


KEYWORD_POSTINGS = 5_000  # index rows BM25 may score per question (large archives only)
ENCODE_ALONGSIDE_FROM = 50_000  # chunks from which BM25 runs while the question is encoded


def keyword_terms(
    text: str, frequencies: dict[str, int] | None = None, budget: int | None = None
) -> list[str]:
    """The question's content words for BM25 (lower-cased, in order; the store matches any of them).

    BM25 costs time in proportion to the rows its terms occur in. Given the number of passages
    each term's stem occurs in, the rarest terms are kept while their rows add up to ``budget``:
    in a large archive a very common word ("year" in a million passages) adds almost nothing to
    the ranking (its IDF is near zero) but would make every search score a large part of the
    index. Below ``budget`` passages nothing is ever dropped."""
    terms = list(dict.fromkeys(w.lower() for w in words(text) if w.lower() not in STOPWORDS))
    budget = KEYWORD_POSTINGS if budget is None else budget
    if frequencies is not None and terms:
        stems: list[str] = stemmer().stemWords(terms)
        ranked = sorted(zip(terms, stems, strict=True), key=lambda pair: frequencies.get(pair[1], 0))
        kept: list[str] = []
        rows = 0
        for term, stem in ranked:
            rows += frequencies.get(stem, 0)
            if kept and rows > budget:
                break
            kept.append(term)
        terms = [t for t in terms if t in kept]
    return terms


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def keyword_scores(
    snap: Snapshot,
    question: str,
    k: int,
    weights: FusionWeights = DEFAULT_WEIGHTS,
    frequencies: dict[str, int] | None = None,
    window: TimeWindow | None = None,
) -> dict[int, float]:
    """BM25's best passages for a question: chunk id → score relative to the best one (0..1], only
    from articles published inside ``window`` when one is given.

    Needs no question vector, so the engine runs it while the question is being encoded."""
    pool = max(k, weights.candidates)
    keyword = snap.keyword_search(keyword_terms(question, frequencies), pool, window)
    top = max((s for _, s in keyword), default=0.0)
    return {i: s / top for i, s in keyword} if top > 0 else {}


def retrieve(
    snap: Snapshot,
    question: str,
    question_vector: Vectors,
    k: int,
    mode: Mode = "hybrid",
    weights: FusionWeights = DEFAULT_WEIGHTS,
    frequencies: dict[str, int] | None = None,
    keyword: dict[int, float] | None = None,
    allowed: Ids | None = None,
) -> list[Passage]:
    """The ``k`` best passages for a question, best first, each with a score in 0..1.

    ``frequencies`` (passages per term stem, from ``Snapshot.term_frequencies``) lets keyword search
    skip the most common terms of a very large archive; see ``keyword_terms``. ``keyword`` is the
    result of ``keyword_scores`` when the caller has already run it. ``allowed`` limits dense search
    to those chunk ids (a date window; ``keyword`` must then come from the same window)."""
    pool = max(k, weights.candidates)
    dense: dict[int, float] = {}
    relative: dict[int, float] = {}
    if mode in ("hybrid", "dense"):
        query = question_vector.reshape(1, -1)
        scores, ids = snap.dense_search(query, pool, allowed)
        dense = {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}
    if mode in ("hybrid", "bm25"):
        relative = keyword if keyword is not None else keyword_scores(snap, question, k, weights, frequencies)
    if mode == "hybrid":
        missing = np.array([i for i in relative if i not in dense], dtype=np.int64)
        if len(missing):
            vectors = snap.chunk_vectors(missing)
            for chunk_id, cosine in zip(missing, vectors @ question_vector.ravel(), strict=True):
                dense[int(chunk_id)] = float(cosine)
    candidates = set(dense) | set(relative)
    fused: dict[int, float] = {}
    for chunk_id in candidates:
        cos = dense.get(chunk_id, 0.0)
        rel = relative.get(chunk_id, 0.0)
        if mode == "dense":
            fused[chunk_id] = (cos + 1.0) / 2.0
        elif mode == "bm25":
            fused[chunk_id] = rel
        else:
            fused[chunk_id] = _sigmoid(weights.dense * cos + weights.keyword * rel + weights.bias)
    ranked = sorted(fused, key=lambda i: fused[i], reverse=True)[: max(k * 2, k + 5)]
    records = snap.chunk_records(ranked)
    passages = [
        Passage(
            chunk_id=i,
            text=records[i].text,
            score=fused[i],
            article=records[i].article,
            sentences=records[i].sentences,
            dense_score=dense.get(i, 0.0),
            keyword_score=relative.get(i, 0.0),
            sentence_vectors=records[i].sentence_vectors,
        )
        for i in ranked
        if i in records
    ]
    return passages[:k]


def idf_weights(stems: list[str], total: int, frequencies: dict[str, int]) -> dict[str, float]:
    """Each stem's inverse document frequency among ``total`` passages (BM25's, never negative)."""
    return {
        s: math.log(1.0 + (total - frequencies.get(s, 0) + 0.5) / (frequencies.get(s, 0) + 0.5))
        for s in stems
    }


@dataclass(frozen=True, slots=True)
class Retrieved:
    """A question's passages, best first, its stems with their IDF in this archive, and its vector."""

    passages: list[Passage]
    stems: list[str]
    idf: dict[str, float]
    vector: Vectors
    unseen_names: tuple[str, ...] = ()  # the question's names (``name_terms``) in no passage of the archive


class Retriever:
    """Question → ranked passages of a store, with the question's term statistics and vector."""

    def __init__(
        self, embedder: Embedder, weights: FusionWeights = DEFAULT_WEIGHTS, mode: Mode = "hybrid"
    ) -> None:
        self.embedder = embedder  # a ``CachingEmbedder`` keeps repeated questions off the model
        self.weights = weights
        self.mode = mode  # when a question names none
        self._lock = threading.Lock()
        self._encoders: ThreadPoolExecutor | None = None

    def retrieve(
        self,
        store: Store,
        question: str,
        k: int,
        mode: Mode | None = None,
        window: TimeWindow | None = None,
        keywords: str | None = None,
    ) -> Retrieved:
        """The ``k`` best passages for a question, only from articles inside ``window`` when given;
        keyword search reads ``keywords`` instead when given (the question with words that the model
        should not weigh, such as its dates), the model the question.

        In a large archive the question is encoded on a worker thread while BM25 searches on this
        one (both release the GIL), so keyword search adds no time to the encoder's; in a small one
        BM25 takes a millisecond and the hand-over would cost more than it saves."""
        mode = mode or self.mode
        stems = stem_terms(question)
        searched = keywords or question
        with store.snapshot() as snap:
            alongside = mode != "dense" and snap.vector_count() >= ENCODE_ALONGSIDE_FROM
            encoding = self._encode_later(question) if alongside else self._encode_now(question)
            # one lookup serves keyword search, the IDF and the names the archive never mentions
            names = name_terms(question)
            searched_stems = stem_terms(searched) if keywords else stems
            total, frequencies = snap.term_frequencies(list(dict.fromkeys([*searched_stems, *names])))
            keyword = None
            if mode != "dense":
                keyword = keyword_scores(snap, searched, k, self.weights, frequencies, window)
            allowed = snap.chunk_ids_in(window) if window is not None else None
            vector = encoding.result()
            passages = retrieve(snap, question, vector, k, mode, self.weights, frequencies, keyword, allowed)
        unseen = tuple(name for name in names if not frequencies.get(name))
        return Retrieved(passages, stems, idf_weights(stems, total, frequencies), vector, unseen)

    def retrieve_in_turn(
        self,
        store: Store,
        question: str,
        k: int,
        mode: Mode | None,
        windows: Sequence[TimeWindow | None],
        keywords: str | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages of the first window, then of the next ones while fewer were found."""
        found: dict[int, Passage] = {}
        for window in windows:
            for passage in self.retrieve(store, question, k, mode, window, keywords).passages:
                found.setdefault(passage.chunk_id, passage)
            if len(found) >= k:
                break
        return list(found.values())[:k]

    def _encode_later(self, text: str) -> Future[Vectors]:
        """The vector of one text, computed on the retriever's encoder threads."""
        with self._lock:
            if self._encoders is None:
                self._encoders = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qa-encode")
            encoders = self._encoders
        return encoders.submit(lambda: self.embedder.encode([text])[0])

    def _encode_now(self, text: str) -> Future[Vectors]:
        """The vector of one text, computed on this thread (a finished future)."""
        done: Future[Vectors] = Future()
        done.set_result(self.embedder.encode([text])[0])
        return done

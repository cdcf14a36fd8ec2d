"""Vectors in segments: a base index plus small delta files, searched together as one index.

The vectors of a committed version are a *base* segment (any ``VectorIndex`` type, trained for
its size), the *delta* segments written since (exact indexes holding what each write added), less
the *tombstones* (ids removed since their segment was written).  A segment never changes once
written, so a write costs what it changes: one small delta file and a few tombstones, however
large the archive.  Searches run on every segment, pass over the tombstones (a FAISS id selector)
and merge the top hits by score.  Chunk ids are never reused (SQLite ``AUTOINCREMENT``), so an id
lives in at most one segment and a tombstone is simply a dead id.

``merge_due`` says when to fold: deltas and tombstones past ``MERGE_RATIO`` of the base fold into
a new base (retrained for its size as ``VectorIndex.save`` decides); more than ``MAX_DELTAS``
delta files fold into one delta, the base untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from qa.store.sizing import IndexType, Kind
from qa.store.vectors import IdMask, Ids, VectorIndex, Vectors

SegmentKind = Literal["base", "delta"]
Merge = Literal["base", "deltas"]

MERGE_RATIO = 0.05  # fold into a new base when deltas + tombstones pass this share of the base
MAX_DELTAS = 16  # fold the deltas into one when there are more delta files than this


def segment_file(seq: int, kind: SegmentKind) -> str:
    """The file name of the segment written by version ``seq``."""
    return f"vectors-{seq}.faiss" if kind == "base" else f"vectors-{seq}.delta.faiss"


@dataclass(frozen=True, slots=True)
class Segment:
    """One immutable vectors file: written by version ``seq``, a base or a delta."""

    seq: int
    kind: SegmentKind
    index: VectorIndex

    @property
    def file(self) -> str:
        """Its file name in the index directory."""
        return segment_file(self.seq, self.kind)


class SegmentSet:
    """The vectors of one committed version: base + deltas - tombstones, read as one index.

    Never changed after construction, so any number of threads may search it."""

    def __init__(self, dimension: int, segments: Sequence[Segment], tombstones: Ids) -> None:
        self.dimension = dimension
        self.segments = tuple(segments)
        if any(s.kind == "base" for s in self.segments[1:]):
            raise ValueError("only the first segment can be a base")
        self.base = self.segments[0] if self.segments and self.segments[0].kind == "base" else None
        self.deltas = self.segments[1:] if self.base is not None else self.segments
        self.tombstones: Ids = np.unique(np.asarray(tombstones, dtype=np.int64))
        self._skip = IdMask(self.tombstones) if len(self.tombstones) else None
        self._stored = sum(len(s.index) for s in self.segments)
        # Which delta holds each delta id (sorted), so reads go to the right segment; the rest is base.
        owners = [np.full(len(d.index), n, dtype=np.int64) for n, d in enumerate(self.deltas)]
        delta_ids = np.concatenate([d.index.ids() for d in self.deltas]) if self.deltas else _no_ids()
        order = np.argsort(delta_ids, kind="stable")
        self._delta_ids: Ids = delta_ids[order]
        self._delta_owner: Ids = np.concatenate(owners)[order] if owners else _no_ids()

    @classmethod
    def empty(cls, dimension: int) -> SegmentSet:
        """No vectors at all (an index before its first write)."""
        return cls(dimension, (), _no_ids())

    def __len__(self) -> int:
        return self._stored - len(self.tombstones)

    @property
    def base_count(self) -> int:
        """Vectors stored in the base segment (tombstoned ones included)."""
        return len(self.base.index) if self.base is not None else 0

    @property
    def delta_count(self) -> int:
        """Vectors stored in delta segments (tombstoned ones included)."""
        return self._stored - self.base_count

    @property
    def kind(self) -> Kind:
        """The base's index type (deltas are always exact)."""
        return self.base.index.kind if self.base is not None else "flat"

    @property
    def nprobe(self) -> int:
        """IVF lists the base searches per query (0 for exact search)."""
        return self.base.index.nprobe if self.base is not None else 0

    # -- reading -------------------------------------------------------------------------------
    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (scores, ids) per query row over every live vector; missing slots have id -1."""
        live = len(self)
        if not live:
            return np.zeros((len(queries), 1), dtype=np.float32), np.full((len(queries), 1), -1, np.int64)
        k = max(1, min(k, live))
        parts = [s.index.search(queries, k, self._skip) for s in self.segments if len(s.index)]
        return parts[0] if len(parts) == 1 else _best(parts, k)

    def search_among(self, query: Vectors, k: int, allowed: Ids) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (scores, ids) for one query row among the ``allowed`` (live) ids only."""
        allowed = np.ascontiguousarray(allowed, dtype=np.int64)
        if not len(allowed) or not len(self):
            return np.zeros((1, 0), dtype=np.float32), np.zeros((1, 0), dtype=np.int64)
        owner = self._owners(allowed)
        parts = []
        for number, segment in enumerate(self.segments):
            here = allowed[owner == number]
            if len(here):
                parts.append(segment.index.search_among(query, k, here))
        return parts[0] if len(parts) == 1 else _best(parts, min(k, len(allowed)))

    def reconstruct(self, ids: Ids) -> Vectors:
        """The stored vectors of these (live) ids, read from the segment that holds each."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(self.segments):
            return VectorIndex(self.dimension).reconstruct(ids)  # empty: faiss refuses unknown ids
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        owner = self._owners(ids)
        for number, segment in enumerate(self.segments):
            rows = np.flatnonzero(owner == number)
            if len(rows):
                out[rows] = segment.index.reconstruct(ids[rows])
        return out

    def items(self) -> tuple[Ids, Vectors]:
        """Every live id and its vector (in no particular order)."""
        if not self.segments:
            return _no_ids(), np.zeros((0, self.dimension), dtype=np.float32)
        parts = [s.index.items() for s in self.segments]
        ids = np.concatenate([p[0] for p in parts])
        vectors = np.concatenate([p[1] for p in parts])
        live = ~np.isin(ids, self.tombstones)
        return ids[live], vectors[live]

    def _owners(self, ids: Ids) -> Ids:
        """Position in ``segments`` of the segment holding each id (ids in no delta: the base)."""
        first_delta = 1 if self.base is not None else 0
        owner = np.zeros(len(ids), dtype=np.int64)
        if len(self._delta_ids):
            at = np.minimum(np.searchsorted(self._delta_ids, ids), len(self._delta_ids) - 1)
            found = self._delta_ids[at] == ids
            owner[found] = self._delta_owner[at[found]] + first_delta
        return owner

    # -- writing -------------------------------------------------------------------------------
    def merge_due(self) -> Merge | None:
        """``base`` when deltas and tombstones passed ``MERGE_RATIO`` of the base, ``deltas`` when
        there are more than ``MAX_DELTAS`` delta files, else None."""
        if self.delta_count + len(self.tombstones) > MERGE_RATIO * self.base_count:
            return "base"
        return "deltas" if len(self.deltas) > MAX_DELTAS else None

    def folded(self, write: SegmentWrite | None, index_type: IndexType, threshold: int) -> VectorIndex:
        """Every live vector (and a write's changes) in one new index, to be saved as a base."""
        if self.base is not None:
            index = self.base.index.clone()  # readers keep searching the old base meanwhile
        else:
            index = VectorIndex(self.dimension, index_type=index_type, threshold=threshold)
        dead = self.tombstones if write is None else np.union1d(self.tombstones, write.removed_ids())
        index.remove(dead)
        for delta in self.deltas:
            index.add(*_live(delta.index, dead))
        if write is not None:
            index.add(*write.added.items())
        return index

    def folded_deltas(self) -> tuple[VectorIndex, Ids]:
        """The live vectors of every delta in one exact index, and the tombstones it makes
        unnecessary (those of delta vectors)."""
        index = VectorIndex(self.dimension, index_type="flat")
        for delta in self.deltas:
            index.add(*_live(delta.index, self.tombstones))
        return index, self.tombstones[np.isin(self.tombstones, self._delta_ids)]


class SegmentWrite:
    """One write's changes on top of a committed ``SegmentSet``: vectors added (the next delta)
    and ids removed from the committed segments (the next tombstones)."""

    def __init__(self, committed: SegmentSet) -> None:
        self.committed = committed
        self.added = VectorIndex(committed.dimension, index_type="flat")
        self._added_ids: set[int] = set()
        self._removed: set[int] = set()

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Add vectors under new ids (chunk ids are never reused)."""
        self.added.add(ids, vectors)
        self._added_ids.update(int(i) for i in ids)

    def remove(self, ids: Ids) -> int:
        """Remove the vectors with these ids; returns how many were live."""
        ours = [int(i) for i in ids if int(i) in self._added_ids]
        theirs = np.setdiff1d(np.asarray(ids, dtype=np.int64), np.array(ours, dtype=np.int64))
        theirs = theirs[~np.isin(theirs, self.committed.tombstones)]
        if ours:
            self.added.remove(np.array(ours, dtype=np.int64))
            self._added_ids.difference_update(ours)
        fresh = {int(i) for i in theirs} - self._removed
        self._removed.update(fresh)
        return len(ours) + len(fresh)

    def removed_ids(self) -> Ids:
        """Ids this write removed from the committed segments (sorted)."""
        return np.array(sorted(self._removed), dtype=np.int64)

    def change(self) -> int:
        """Vectors this write adds and removes."""
        return len(self.added) + len(self._removed)

    def folds_at_commit(self) -> bool:
        """True when this write alone passes ``MERGE_RATIO`` of the base (a bulk write, or a small
        archive): it is cheaper to save one new base than a delta that is merged at once."""
        return self.change() > MERGE_RATIO * self.committed.base_count


def _no_ids() -> Ids:
    return np.zeros(0, dtype=np.int64)


def _live(index: VectorIndex, dead: Ids) -> tuple[Ids, Vectors]:
    """The ids and vectors of ``index`` that are not in ``dead``."""
    ids, vectors = index.items()
    keep = ~np.isin(ids, dead)
    return ids[keep], vectors[keep]


def _best(parts: list[tuple[npt.NDArray[np.float32], Ids]], k: int) -> tuple[npt.NDArray[np.float32], Ids]:
    """The top ``k`` per row of several (scores, ids) results; missing slots (id -1) sort last."""
    scores = np.concatenate([p[0] for p in parts], axis=1)
    ids = np.concatenate([p[1] for p in parts], axis=1)
    order = np.argsort(-np.where(ids < 0, -np.inf, scores), axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)

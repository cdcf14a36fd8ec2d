"""Which FAISS index an archive's size calls for: exact below a threshold, else IVF (8-bit codes when
very large); how many lists it has and how many a query probes. Plain numbers: no faiss here.

``index_type`` values (the ``QA_INDEX_TYPE`` setting): ``auto`` (default), ``flat`` (always
exact), ``ivf`` (IVF-Flat as soon as there are enough vectors to train it), ``ivf-sq8`` (IVF with
8-bit scalar-quantized vectors: 4x less memory, approximate reconstruction).
"""

from __future__ import annotations

import math
from typing import Literal, cast, get_args

IndexType = Literal["auto", "flat", "ivf", "ivf-sq8"]
INDEX_TYPES: tuple[str, ...] = get_args(IndexType)
Kind = Literal["flat", "ivf", "ivf-sq8"]

DEFAULT_THRESHOLD = 50_000  # auto: exact search below this many vectors
SQ8_THRESHOLD = 4_000_000  # auto: 8-bit codes above this many (float vectors would pass ~6 GB)
MIN_TRAIN = 4_096  # an explicit ivf type stays exact until it has this many vectors to train on
TRAIN_POINTS_PER_LIST = 40  # k-means sample size per list (faiss warns below 39)


def nlist_for(count: int) -> int:
    """Number of IVF lists for ``count`` vectors: about sqrt(count), at least 16."""
    return max(16, min(65_536, round(math.sqrt(max(count, 1)))))


def nprobe_for(nlist: int) -> int:
    """Lists probed per query: enough for recall@10 >= 0.95 of exact search on sentence embeddings.

    Measured by ``bench/scale.py`` on two sets of 50 questions (recall@10 against exact search):
    at 100k vectors (316 lists) 32 probed gave 0.938-0.988 and 48 gave 0.966-0.99; at 1M (1,000
    lists) 41 probed gave 0.966-0.988."""
    return min(nlist, max(48, nlist // 24))


def wanted_kind(index_type: IndexType, threshold: int, count: int, current: Kind) -> Kind:
    """The kind of index ``count`` vectors call for under the ``index_type`` policy (``current``: the
    kind they are in now)."""
    if index_type == "flat":
        return "flat"
    if index_type in ("ivf", "ivf-sq8"):
        return "flat" if count < MIN_TRAIN else cast(Kind, index_type)
    # auto, with hysteresis so an archive hovering at the threshold does not flip back and forth
    lower = threshold // 2 if current != "flat" else threshold
    if count < max(lower, MIN_TRAIN):
        return "flat"
    return "ivf-sq8" if count >= SQ8_THRESHOLD else "ivf"

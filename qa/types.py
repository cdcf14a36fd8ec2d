"""Type names shared by the core and its front ends."""

from __future__ import annotations

from typing import Literal

Mode = Literal["hybrid", "dense", "bm25"]
"""Retrieval mode: keyword and dense search fused, dense only, or keyword (BM25) only."""

Confidence = Literal["sure", "likely", "unsure"]
"""How sure an answer is, in a word every front end shows."""

"""What a long-running server gives back to the system after a burst of concurrent questions.

Two things keep the working memory of concurrent forward passes in the process once they have ended
(``bench.query_latency`` measured 580 MiB of RSS after 8 clients against 340 MiB after one): ONNX
Runtime's arena keeps every block it ever needed (``qa.runtime.onnx_runtime.OnnxSpanScorer`` shrinks
it after a pass that ran beside others), and glibc's malloc keeps what the arena frees, since it
raises the size above which a block gets a mapping of its own (and goes back to the system when
freed) each time such a block is freed, up to 32 MiB. ``hand_back_large_blocks`` fixes that size.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc's malloc.h)
LARGE_BLOCK = 1 << 20  # bytes: a block this large is mapped on its own and unmapped when freed


def hand_back_large_blocks() -> bool:
    """Blocks of ``LARGE_BLOCK`` bytes and more are returned to the system when freed, for the rest of
    the process (glibc's ``mallopt(M_MMAP_THRESHOLD)``, which also stops malloc from raising that
    size). True where it took effect; False on a C library without it, where nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library symbols to load, or no mallopt in it
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK) == 1)
    logger.debug("large blocks handed back when freed: %s", done)
    return done

"""The word-embedding table the encoder and the reader hold in common, mapped once per process.

The reader is trained on top of the bundled all-MiniLM-L6-v2 without changing its embeddings, so the
two ONNX files carry the same 30,522 x 384 table (47 MB). Each ONNX Runtime session would make its
own copy; instead the table is mapped once from the file that holds it and handed to both
(``SessionOptions.add_initializer``): only the rows of the words actually read come into memory,
as pages of the file that every process answering from it shares. Reading it into memory instead
cost 100 ms of start-up here. (A file truncated in place under a running process would end it as
any mapped file does; qa-bot itself only ever replaces a file whole, which leaves a mapping valid.)

Nothing is taken on trust: when a file is made, its record notes where the table's bytes lie in it
and their SHA-256 (``locate``). A session shares a table only when its own record names one, and
the bytes are mapped from the ONNX file that was itself verified before loading, at the offset its
record gives; two files share one copy only when their records give the same digest. A record
without the note (a file made before it, or a graph whose embeddings the optimizer did not fuse)
loads as before, with its own copy.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ModelError
from qa.runtime.onnx_build import REBUILD, OnnxFile

_tables: dict[str, Any] = {}  # SHA-256 of a table's bytes -> its OrtValue (and mapping), for life
_lock = threading.Lock()


def locate(path: Path) -> dict[str, Any] | None:
    """Where the word-embedding table lies in a made ONNX file: the initializer's name, the offset
    of its bytes in the file, its shape and their SHA-256; None when the graph has no fused
    embedding operator or the bytes cannot be found exactly once."""
    import onnx

    data = path.read_bytes()
    model = onnx.load_model_from_string(data)
    embedding = next((n for n in model.graph.node if n.op_type == "EmbedLayerNormalization"), None)
    if embedding is None:
        return None
    name = embedding.input[2]  # input ids, segment ids, then the word embeddings
    tensor = next((t for t in model.graph.initializer if t.name == name), None)
    if tensor is None or tensor.data_type != onnx.TensorProto.FLOAT or not tensor.raw_data:
        return None
    raw = tensor.raw_data
    offset = data.find(raw)
    if offset < 0 or data.find(raw, offset + 1) >= 0:
        return None
    return {
        "name": name,
        "offset": offset,
        "shape": [int(d) for d in tensor.dims],
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def initializers(file: OnnxFile, ort: Any) -> dict[str, Any]:
    """The tables this file's session should take instead of its own copies (by initializer name),
    as ``ort.OrtValue``s, read from the file (verified before this is called) the first time a
    digest is asked for."""
    entry = file.recorded_table()
    if entry is None:
        return {}
    with _lock:
        value = _tables.get(entry["sha256"])
        if value is None:
            value = _tables[entry["sha256"]] = _read(file.path, entry, ort)
    return {str(entry["name"]): value}


def _read(path: Path, entry: dict[str, Any], ort: Any) -> Any:
    """The table's bytes at the recorded offset, mapped read-only, as an ONNX Runtime value."""
    shape = tuple(int(d) for d in entry["shape"])
    count = int(np.prod(shape))
    offset = int(entry["offset"])
    if path.stat().st_size < offset + 4 * count:  # the file ends before the table its record places in it
        raise ModelError(f"ONNX file {path} is shorter than its record says: rebuild it with `{REBUILD}`")
    table = np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=shape)
    return ort.OrtValue.ortvalue_from_numpy(table)


def loaded_tables() -> int:
    """How many tables this process holds (one when the encoder and the reader share theirs)."""
    with _lock:
        return len(_tables)

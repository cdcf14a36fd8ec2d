"""Making the ONNX files the query path runs on, once, from the installed weights (the one module that
exports with torch).

Two files, each made from weights that are pinned by SHA-256 and each recorded with its own SHA-256
in a JSON file beside it (``<file>.json``):

- ``encoder-<sha12>.onnx``: the bundled all-MiniLM-L6-v2 (fp32: its vectors equal the torch model's
  to 1e-6, so an index built with either answers with either; int8 moved them too far, docs/bench.md).
- ``reader-<sha12>-int8.onnx`` (or ``-fp32``): the trained reader over the same base model, its matrix
  products and attention int8 by default (ONNX Runtime's dynamic quantization; ``QA_QUANTIZE=0`` for
  fp32).

Each is traced from torch, then fused by ONNX Runtime's BERT optimizer (attention, layer norms and
GELU as single operators), then, for int8, quantized.

They are built into ``QA_ONNX_DIR`` (``$XDG_CACHE_HOME/qa-bot/onnx``) on first use (about 10 s, with a
log line) or by ``qa doctor --rebuild``; two processes never build the same file at once, and a file
only appears once it is whole.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import ModelError
from qa.runtime.embedding import BUNDLED_MODEL_SHA256, bundled_model_path, file_sha256, verify_model_files

progress = logging.getLogger("qa.progress")  # shown on a terminal unless -q, as indexing's

OPSET = 17
RECIPE = 4  # bump when the export or the record changes: every cached file is then made again
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
REBUILD = "qa doctor --rebuild"


@dataclass(frozen=True, slots=True)
class OnnxFile:
    """One ONNX file of the query path: where it is, what it was made from and its own checksum."""

    kind: str  # "encoder" or "reader"
    path: Path
    source_sha256: str  # the weights it was made from
    precision: str  # "fp32" or "int8"

    @property
    def record(self) -> Path:
        """The JSON file beside it: its SHA-256, its source and how it was made."""
        return self.path.with_name(self.path.name + ".json")

    @property
    def memo(self) -> Path:
        """The JSON file beside it that remembers its identity once its SHA-256 matched the record
        (``qa.runtime.onnx_runtime.ready``); removed before the file is made again."""
        return self.path.with_name(self.path.name + ".verified")

    def recorded_sha256(self) -> str | None:
        """The SHA-256 recorded when the file was built; None when there is no whole record."""
        data = self._recorded()
        try:
            return str(data["sha256"]) if data and data.get("recipe") == RECIPE else None
        except (KeyError, TypeError):
            return None

    def recorded_table(self) -> dict[str, Any] | None:
        """Where the file's word-embedding table lies and its SHA-256 (``qa.runtime.shared_tables``),
        as recorded when it was built; None when the record names none."""
        data = self._recorded()
        table = data.get("word_embeddings") if data and data.get("recipe") == RECIPE else None
        whole = isinstance(table, dict) and {"name", "offset", "shape", "sha256"} <= set(table)
        return table if whole else None

    def _recorded(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def onnx_file(folder: Path, kind: str, source_sha256: str, precision: str) -> OnnxFile:
    """The cache entry for ``kind`` made from weights with ``source_sha256`` at ``precision``."""
    suffix = "" if kind == "encoder" else f"-{precision}"
    name = f"{kind}-{source_sha256[:12]}{suffix}.onnx"
    return OnnxFile(kind, folder / name, source_sha256, precision)


def build(target: OnnxFile, base_path: str, reader_weights: Path | None = None) -> None:
    """Export ``target`` from the torch weights (and quantize it), atomically, with its record.

    ``ModelError`` with one line naming the file when the export fails."""
    from filelock import FileLock

    from qa.runtime.shared_tables import locate

    if Path(base_path) == bundled_model_path():  # made only from pinned weights
        verify_model_files(Path(base_path), BUNDLED_MODEL_SHA256)
    target.path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.path) + ".lock"):
        if target.recorded_sha256() is not None and target.path.is_file():
            return  # another process built it while this one waited
        target.memo.unlink(missing_ok=True)  # a file made again is not remembered as verified
        started = time.monotonic()
        progress.info("building the ONNX %s once (about 10 s): %s", target.kind, target.path)
        try:
            with tempfile.TemporaryDirectory(dir=target.path.parent, prefix=".build-") as scratch:
                fp32 = Path(scratch) / "fp32.onnx"
                made = fp32
                with _quiet():
                    _export(target.kind, base_path, reader_weights, Path(scratch) / "traced.onnx")
                    _fuse(Path(scratch) / "traced.onnx", fp32, base_path)
                    if target.precision == "int8":
                        made = Path(scratch) / "int8.onnx"
                        _quantize(fp32, made)
                digest = file_sha256(made)
                table = locate(made)
                os.replace(made, target.path)
        except ModelError:
            raise
        except Exception as exc:  # torch's exporter and onnx raise many types
            raise ModelError(f"cannot build {target.path}: {exc} (retry with `{REBUILD}`)") from exc
        _write_record(target, digest, table)
        progress.info("built %s in %.1f s", target.path.name, time.monotonic() - started)


@contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's and the quantizer's notes to developers are not the user's business: the tracer's
    warnings about Python branches (the shapes are dynamic, the tests compare the outputs) and the
    quantizer's advice on the root logger."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # the unused pooler, reported
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # "Loading weights" of a 1 s load
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _write_record(target: OnnxFile, digest: str, table: dict[str, Any] | None) -> None:
    import onnxruntime
    import torch

    record: dict[str, Any] = {
        "kind": target.kind,
        "sha256": digest,
        "source_sha256": target.source_sha256,
        "precision": target.precision,
        "recipe": RECIPE,
        "opset": OPSET,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    if table is not None:
        record["word_embeddings"] = table
    scratch = target.record.with_name(target.record.name + ".tmp")
    scratch.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(scratch, target.record)


def _export(kind: str, base_path: str, reader_weights: Path | None, path: Path) -> None:
    """torch → ONNX with dynamic batch and length: the encoder's token vectors, or the reader's scores.

    Attention is traced from transformers' plain ("eager") implementation, the graph that ONNX
    Runtime's optimizer recognises and fuses (``_fuse``); the default (PyTorch's fused kernel) traces
    into a graph it does not."""
    import torch

    from qa.runtime.reader_torch import build_model, load_trained

    if kind == "reader":
        assert reader_weights is not None
        model: Any = build_model(base_path, attention="eager")
        load_trained(model, reader_weights, base_path)
        outputs = ["start", "end"]
    else:
        model = _TokenEncoder(base_path)
        outputs = ["tokens"]
    model.eval()
    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, *outputs)}
    with torch.inference_mode():
        torch.onnx.export(
            model,
            (sample, sample, torch.zeros_like(sample)),
            str(path),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
        )


def _TokenEncoder(base_path: str) -> Any:  # noqa: N802  (a class made on demand: torch loads lazily)
    """The sentence model's transformer alone: token vectors out (pooling runs in numpy)."""
    import torch
    from transformers import AutoModel

    class TokenEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(
                base_path, add_pooling_layer=False, attn_implementation="eager"
            )

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    return TokenEncoder()


def _fuse(traced: Path, fused: Path, base_path: str) -> None:
    """ONNX Runtime's BERT optimizer: the embeddings with their layer norm, each layer's attention,
    each bias with its GELU and each residual with its layer norm become one operator. The same
    numbers (fp32 to 1e-6) in less time, and attention in a form that int8 reaches.

    The optimizer fuses what it recognises and leaves the rest as it was: a trace it no longer
    recognises (another transformers) still makes a working file, only a slower one, so that is a
    warning naming what was fused, not an error."""
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((Path(base_path) / "config.json").read_text(encoding="utf-8"))
    layers = int(config["num_hidden_layers"])
    model = optimize_model(
        str(traced),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        opt_level=1,
    )
    fused_layers = model.get_fused_operator_statistics().get("Attention", 0)
    if fused_layers != layers:
        progress.warning(
            "ONNX Runtime's optimizer fused the attention of %d of %d layers: the file answers the same, "
            "more slowly",
            fused_layers,
            layers,
        )
    model.save_model_to_file(str(fused))


def _quantize(fp32: Path, int8: Path) -> None:
    """Dynamic int8 quantization of the fused graph's matrix products and attention (its QKV
    projection), one scale per output channel where the operator allows it; the embeddings stay
    fp32. Chosen by measurement (docs/bench.md): one scale per tensor everywhere, or int8 embeddings
    too, moved SQuAD's exact match by 0.045 and reuters-1987's answer_hit@1 by 0.033; this keeps both
    within the parity rule and reads passages in 0.77x the time of the unfused int8 graph."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32),
        str(int8),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
        # the fused operators are ONNX Runtime's own: shape inference cannot type their outputs
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )

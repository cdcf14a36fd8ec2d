"""The reader on torch: the span model that training builds, and its runtime for ``QA_RUNTIME=torch``.

The one module of the reader that imports torch and transformers; ``bench/train_reader.py`` trains
the model built here, and ``qa.runtime.onnx_build`` exports it for ONNX Runtime.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.answering.reader import Logits, ReaderConfig, Windows, context_offsets, encode_pairs, fitted_question
from qa.errors import ModelError


def build_model(base_path: str, attention: str | None = None) -> Any:
    """The base encoder with a fresh span head (two scores per token): training and loading share it.

    ``attention`` names transformers' attention implementation (``"eager"`` for the ONNX export,
    whose graph ONNX Runtime fuses; None: transformers' default)."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    # The base folder also holds the sentence model's pooler, which a reader does not use: loading
    # without it is expected, and transformers' report of it is noise on every start.
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]

    class SpanReader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(
                base_path, add_pooling_layer=False, attn_implementation=attention
            )
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            logits = self.head(hidden)
            return logits[..., 0], logits[..., 1]

    return SpanReader()


def trained_parameters(model: Any) -> dict[str, Any]:
    """The parameters training changes (transformer layers and head), by name: what is shipped."""
    return {name: p for name, p in model.named_parameters() if not name.startswith("encoder.embeddings.")}


def load_trained(model: Any, weights: Path, base_model: str) -> None:
    """Load shipped layers and head (``reader.safetensors``) into a ``build_model`` model, in place.

    ``ModelError`` when the file does not hold exactly the parameters training changes."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    if set(state) != set(trained_parameters(model)):
        raise ModelError(f"reader weights {weights} do not fit the base model {base_model}")
    model.load_state_dict(state, strict=False)


class TorchSpanScorer:
    """The reader's model on torch (a GPU, or to compare with ONNX Runtime); thread-safe."""

    def __init__(self, base_path: str, weights: Path, config: ReaderConfig, device: str) -> None:
        import torch
        from transformers import AutoTokenizer

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(base_path)
            model = build_model(base_path)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the reader's base model {base_path}: {exc}") from exc
        load_trained(model, weights, config.base_model)
        self._model = model.to(device).eval()
        self._config = config
        self._device = device
        self._torch = torch
        self._lock = threading.Lock()

    def windows(self, question: str, passages: Sequence[str]) -> Windows:
        config = self._config
        pieces = self._tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        question = fitted_question(question, pieces["offset_mapping"])
        encoding = encode_pairs(
            self._tokenizer, [question] * len(passages), passages, config.max_length, config.stride
        )
        count = len(encoding["input_ids"])
        return Windows(
            [list(row) for row in encoding["input_ids"]],
            [list(row) for row in encoding["token_type_ids"]],
            [int(owner) for owner in encoding["overflow_to_sample_mapping"]],
            [context_offsets(encoding, window) for window in range(count)],
        )

    def scores(self, windows: Windows) -> tuple[Logits, Logits]:
        torch = self._torch
        ids, mask, types = (torch.from_numpy(a).to(self._device) for a in windows.padded())
        with self._lock, torch.inference_mode():
            start, end = self._model(ids, mask, types)
        return start.float().cpu().numpy(), end.float().cpu().numpy()

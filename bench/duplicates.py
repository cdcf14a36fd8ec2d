"""Tune the duplicate-story threshold: MinHash similarity of realistic copies against distinct texts.

Stories are ~400-word runs of consecutive SQuAD paragraphs (news length) plus the seed article.
Copies are what re-publishing does to a story: a wire header and a footer, light edits, a trimmed
end, an added line, or all of them together. Distinct pairs are the hard case: two stories made of
different paragraphs of the same Wikipedia article (same topic, same names), and two single
paragraphs of one article. ``python -m bench.duplicates [--stories 200]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
from collections.abc import Callable

import numpy as np

from bench.common import REPO, SQUAD_DOCS
from qa.ingest.copies import SHINGLE_WORDS, shingles, signature, similarity

SEEDS = REPO / "seeds"
STORY_WORDS = 400
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)

HEADERS = (
    "By Staff Reporter | {outlet} | Published 14 March 2005, 09:12 GMT",
    "{outlet} - Updated: 2005-03-14 10:40",
    "Home > News > World\n{outlet} correspondent",
)
FOOTERS = (
    "Copyright 2005 {outlet}. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed.",
    "Read more: Share this story on Facebook, Twitter or by e-mail. Subscribe to our newsletter.",
    "Additional reporting by agencies. Follow us for the latest updates.",
)
OUTLETS = ("Reuters", "Associated Press", "AFP", "The Daily Courier")


def stories(limit: int) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    """News-length stories, pairs of distinct stories on one topic, pairs of paragraphs of one article."""
    by_title: dict[str, list[str]] = {}
    for line in SQUAD_DOCS.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        by_title.setdefault(doc["title"], []).append(doc["text"])
    texts: list[str] = []
    same_topic: list[tuple[str, str]] = []
    paragraphs: list[tuple[str, str]] = []
    for paras in by_title.values():
        grouped: list[str] = []
        current: list[str] = []
        for para in paras:
            current.append(para)
            if sum(len(p.split()) for p in current) >= STORY_WORDS:
                grouped.append("\n\n".join(current))
                current = []
        texts.extend(grouped)
        same_topic.extend(itertools.pairwise(grouped))
        paragraphs.extend(itertools.pairwise(paras))
    texts.extend(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    return texts[:limit], same_topic[:limit], paragraphs[: limit * 5]


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text.strip())


def wire(text: str, rng: random.Random) -> str:
    """The story with an outlet's header and footer."""
    outlet = rng.choice(OUTLETS)
    header, footer = rng.choice(HEADERS), rng.choice(FOOTERS)
    return f"{header.format(outlet=outlet)}\n\n{text}\n\n{footer.format(outlet=outlet)}"


def edited(text: str, rng: random.Random) -> str:
    """Light copy-editing: about one word in 40 changed, quotes and dashes restyled."""
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, len(words) // 40)):
        words[i] = rng.choice(("said", "the", "also", "reported", "new", "some"))
    return " ".join(words).replace('"', "'").replace("–", "-")


def trimmed(text: str, rng: random.Random) -> str:
    """The last sentence or two cut, as papers cut stories from the bottom."""
    parts = _sentences(text)
    return " ".join(parts[: max(1, len(parts) - rng.choice((1, 2)))])


def updated(text: str, rng: random.Random) -> str:
    """A line added at the end."""
    return text + " " + rng.choice(("Officials declined to comment further.", "More details are expected."))


def everything(text: str, rng: random.Random) -> str:
    """Header, footer, edits and a trimmed end together."""
    return wire(edited(trimmed(text, rng), rng), rng)


COPIES: dict[str, Callable[[str, random.Random], str]] = {
    "exact copy": lambda text, _: text,
    "wire header + footer": wire,
    "light edits": edited,
    "end trimmed": trimmed,
    "line added": updated,
    "all of these": everything,
}


def exact_jaccard(a: str, b: str, size: int) -> float:
    """Jaccard similarity of two texts' word shingles."""
    x, y = shingles(a, size), shingles(b, size)
    return len(x & y) / max(1, len(x | y))


def row(name: str, values: list[float]) -> str:
    """One table row: quantiles and the share at or above each threshold."""
    array = np.array(values)
    shares = " | ".join(f"{np.mean(array >= t):.2f}" for t in THRESHOLDS)
    spread = f"{array.min():.2f} | {np.median(array):.2f} | {array.max():.2f}"
    return f"| {name} | {len(values)} | {spread} | {shares} |"


def main() -> None:
    """Print the table that justifies ``qa.ingest.copies.THRESHOLD``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stories", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(13)
    texts, same_topic, paragraphs = stories(args.stories)
    head = " | ".join(f">= {t}" for t in THRESHOLDS)
    print(f"MinHash estimate of {SHINGLE_WORDS}-word shingle Jaccard (exact 3-word Jaccard in brackets)\n")
    print(f"| pair | n | min | median | max | {head} |")
    print("|" + "---|" * (5 + len(THRESHOLDS)))
    for name, make in COPIES.items():
        pairs = [(t, make(t, rng)) for t in texts]
        values = [similarity(signature(a), signature(b)) for a, b in pairs]
        three = np.median([exact_jaccard(a, b, 3) for a, b in pairs])
        print(row(f"copy: {name} [{three:.2f}]", values))
    for name, pairs in (("distinct: stories on one topic", same_topic), ("distinct: paragraphs", paragraphs)):
        values = [similarity(signature(a), signature(b)) for a, b in pairs]
        three = np.median([exact_jaccard(a, b, 3) for a, b in pairs])
        print(row(f"{name} [{three:.2f}]", values))


if __name__ == "__main__":
    main()

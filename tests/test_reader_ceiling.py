"""bench.reader_ceiling's arithmetic on hand-made readings (the script itself reads the bench cache)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.calibration import SHIPPED, Asked
from bench.reader_ceiling import ABSENT, EXTRA, V2, ceiling, held_out, main, with_extra
from qa.answering.answers import span_shares


def asked(setting: str, margins: list[float], right: list[bool], refuse: bool = False) -> Asked:
    shares = span_shares([m + 1.0 for m in margins])
    rows = [
        [m, m + 1.0, -1.0, 1.0 - 0.1 * n, float(n == 0), 0.0, 0.5, share, 0.0]
        for n, (m, share) in enumerate(zip(margins, shares, strict=True))
    ]
    return Asked(setting, np.array(rows).reshape(-1, len(SHIPPED)), np.array(right, bool), refuse)


def test_the_ceiling_counts_answerable_questions_with_any_right_reading() -> None:
    data = [
        asked(ABSENT, [2.0, 1.0], [False, True]),
        asked(ABSENT, [2.0, 1.0], [False, False]),
        asked(ABSENT, [0.5], [False], refuse=True),  # must be refused: not in the ceiling's count
        asked(V2, [1.0], [True]),
    ]
    assert ceiling(data, ABSENT) == 0.5
    assert ceiling(data, V2) == 1.0


def test_question_level_columns_are_added_per_reading() -> None:
    a = asked(ABSENT, [3.0, 1.0, 2.0], [True, False, False])
    (wide,) = with_extra([a], ("relative", "rank", "gap", "softmax"))
    assert wide.features.shape == (3, len(SHIPPED) + 2 + 1 + 1 + 1)
    relative = wide.features[:, len(SHIPPED)]
    assert relative.tolist() == [0.0, -2.0, -1.0]  # margin minus the question's best
    gap = wide.features[:, len(SHIPPED) + 3]
    assert gap.tolist() == [1.0, 1.0, 1.0]  # best margin minus the second best
    assert wide.features[:, -1].sum() == pytest.approx(1.0)  # softmax over the question's readings
    assert set(EXTRA) >= {"relative", "rank", "gap", "softmax", "products"}


def test_held_out_scores_separable_readings_fully() -> None:
    rng = np.random.default_rng(3)
    data = []
    for setting in (ABSENT, V2):
        for n in range(40):  # answerable, answerable, refused, refused, ...: each fold gets both kinds
            if n % 4 < 2:
                data.append(asked(setting, [4.0 + rng.random(), -3.0], [True, False]))
            else:
                data.append(asked(setting, [-4.0 - rng.random(), -5.0], [False, False], refuse=True))
    absent, v2, hit = held_out(data, (), joint=False)
    assert (absent, v2, hit) == (1.0, 1.0, 1.0)


def test_it_says_to_calibrate_first_without_kept_readings(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("bench.calibrate_reader.CACHE", tmp_path)
    with pytest.raises(SystemExit):
        main([])
    assert "run python -m bench.calibrate_reader first" in capsys.readouterr().err

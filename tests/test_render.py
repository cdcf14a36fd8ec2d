"""Terminal rendering of what the archive knows: dates as precise as the article gave them."""

from __future__ import annotations

import pytest

from bots.cli.render import shown_date


@pytest.mark.parametrize(
    ("published", "shown"),
    [
        ("2020-10-04T17:37:06", "2020-10-04 17:37:06"),
        ("2024-05-16T00:00:00", "2024-05-16"),  # a page that gave only its day
        ("2024-05-16", "2024-05-16"),
        (None, ""),
    ],
)
def test_shown_date_never_invents_a_time(published: str | None, shown: str) -> None:
    """A date known without its time is shown as the date alone, not as midnight."""
    assert shown_date(published) == shown

"""The dates that articles give: a timestamp line, an ISO 8601 or RFC 2822 date in metadata or a feed."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime

from qa.errors import DocumentError

_TIMESTAMP = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?))?(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)


def parse_timestamp(value: str) -> str | None:
    """ISO 8601 (seconds precision, no zone) from a timestamp line or metadata value, else None."""
    match = _TIMESTAMP.match(value)
    if not match:
        return None
    date, time, _zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{date}T{time or '00:00:00'}")
    except ValueError:
        return None
    return moment.isoformat(timespec="seconds")


def iso_date(value: str | None) -> str | None:
    """ISO 8601 (seconds, wall-clock time as written) from an RFC 2822 date (as feeds write them) or
    an ISO 8601 / W3C one, else None."""
    if not value or not value.strip():
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return parse_timestamp(value)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def given_date(value: object, where: str) -> str | None:
    """The date an article's metadata gives (``published``, ``date``), read by ``iso_date``; None when
    none is given, ``DocumentError`` naming the value when one is given that cannot be read: an
    article indexed without the date it was given would silently drop out of every question about
    its time."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    found = iso_date(value) if isinstance(value, str) else None
    if found is None:
        raise DocumentError(
            where, f"unreadable date {value!r} (write 2005-03-14, 2005-03-14T09:30:00 or an RFC 2822 date)"
        )
    return found

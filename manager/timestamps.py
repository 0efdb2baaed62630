"""Times as the rules' API takes and shows them: ISO 8601 in, epoch seconds inside."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def parse_time(value: object) -> float:
    """An ISO 8601 time as epoch seconds; without an offset it is local time."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 time")
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("expected an ISO 8601 time") from None
    return (dt if dt.tzinfo else dt.astimezone()).timestamp()

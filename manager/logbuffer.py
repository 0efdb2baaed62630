"""The last log lines at INFO and above, kept in memory for the UI's log view.

The journal (or the terminal) keeps the full log; this only spares an operator the shell for a
first look. A plain logging.Handler, attached by the composition root and removed on close.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any

LEVELS = ("INFO", "WARNING", "ERROR")


class LogBuffer(logging.Handler):
    """Keeps the newest `size` records at INFO or above; thread-safe through Handler's lock."""

    def __init__(self, size: int = 1000) -> None:
        super().__init__(level=logging.INFO)
        self.lines: deque[dict[str, Any]] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        self.lines.append(
            {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds"),
                "level": "ERROR" if record.levelno >= logging.ERROR else record.levelname,
                "logger": record.name,
                "message": message,
            }
        )

    def recent(self, level: str = "INFO", limit: int = 200) -> list[dict[str, Any]]:
        """Newest first, at `level` or above; raises ValueError for an unknown level."""
        if level not in LEVELS:
            raise ValueError(f"must be one of {', '.join(LEVELS)}")
        floor = logging.getLevelName(level)
        assert self.lock is not None  # created by Handler.__init__
        with self.lock:
            rows = list(self.lines)
        picked = [r for r in reversed(rows) if logging.getLevelName(r["level"]) >= floor]
        return picked[:limit]

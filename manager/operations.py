"""Operations behind the facade: health, metrics, the log view, backup and restore.

Kept apart from the configuration facade in service.py, which reaches it as `service.ops`; the
web layer still imports nothing but the facade. The composition root fills in what a running
manager has (metrics, the log buffer, the data directory, how to restart).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from manager import backup
from manager.config import InvalidInput
from manager.configstore import ConfigStore
from manager.control import ControlLoop
from manager.events import EventLog
from manager.logbuffer import LogBuffer
from manager.metrics import Metrics
from manager.store import CorruptDataError
from manager.version import VERSION

log = logging.getLogger("ampshare.operations")


class Unavailable(LookupError):
    """This manager does not run the part asked for (no data directory, no metrics)."""


class Operations:
    def __init__(
        self, *, control: ControlLoop, store: ConfigStore, events: EventLog, lock: asyncio.Lock
    ) -> None:
        self.control = control
        self.store = store
        self.events = events
        self._lock = lock  # the facade's: no configuration change half-way through a backup
        self.metrics: Metrics | None = None
        self.logs: LogBuffer | None = None
        self.data_dir: Path | None = None
        #: takes a checked, staged restore; the app switches it in and restarts
        self.restart_with: Callable[[Path], None] | None = None
        #: reads a staged restore as start-up will (raises CorruptDataError); set by the app
        self.check_staged: Callable[[Path], None] | None = None

    def health(self) -> dict[str, str]:
        """Status and version only; "ok" while control cycles run on time."""
        last = self.control.last_cycle_at
        interval = self.control.settings.site.control_interval_s
        if last is None:
            status = "starting"
        elif time.monotonic() - last > max(10.0, 5 * interval):
            status = "stalled"
        else:
            status = "ok"
        return {"status": status, "version": VERSION}

    def metrics_text(self) -> bytes:
        if self.metrics is None:
            raise Unavailable("metrics are not running")
        return self.metrics.render()

    def metrics_token(self) -> str | None:
        return self.store.settings().metrics.token

    def log_lines(self, level: str = "INFO", limit: int = 200) -> list[dict[str, Any]]:
        if self.logs is None:
            return []
        try:
            return self.logs.recent(level.upper(), limit)
        except ValueError as exc:
            raise InvalidInput.one("level", str(exc)) from None

    async def backup(self) -> bytes:
        """One archive of the data directory (users, sessions, events as stored, each written
        as it happened). Holds secrets."""
        if self.data_dir is None:
            raise Unavailable("no data directory")
        async with self._lock:
            return await asyncio.to_thread(backup.create, self.data_dir)

    def _check(self, staged: Path) -> None:
        if self.check_staged is None:
            return
        try:
            self.check_staged(staged)
        except CorruptDataError as exc:
            backup.discard(staged)
            raise backup.BadArchive(str(exc)) from None

    async def restore(self, archive: bytes) -> dict[str, Any]:
        """Checks the whole archive, then has the manager switch to it and restart."""
        if self.data_dir is None or self.restart_with is None:
            raise Unavailable("restore needs a running manager with a data directory")
        async with self._lock:
            try:
                staged = await asyncio.to_thread(backup.stage, archive, self.data_dir)
                await asyncio.to_thread(self._check, staged)
            except backup.BadArchive as exc:
                raise InvalidInput.one("archive", str(exc)) from None
            self.restart_with(staged)
        log.warning("restore checked; the manager restarts on the restored data")
        return {"restored": True, "restarting": True}

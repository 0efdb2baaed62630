"""Files that travel between ampshare and a box: firmware the admin uploaded, logs boxes sent.

A box fetches firmware from, and uploads its log to, a one-time URL on ampshare's web server.
The URL needs no login (a box cannot log in), so it is a random token that works once and for
at most 30 minutes. Files are written to a temp file and renamed, so a torn upload never shows
up as a file; every size is bounded.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: firmware the admin may upload; logs a box may upload
MAX_FIRMWARE = 64 * 1024 * 1024
MAX_LOG = 64 * 1024 * 1024
TOKEN_TTL_S = 30 * 60
#: firmware files and log files kept; the oldest go first
MAX_FILES = 20

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _temp_in(folder: Path) -> tuple[int, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=".upload.", dir=folder)


def _finish(fh: Any, tmp: str, target: Path) -> None:
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()
    os.replace(tmp, target)


class TransferError(ValueError):
    """Refused: the token is unknown, used or expired (404), or the file too large (413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Ticket:
    kind: str  # "download" (firmware to a box) | "upload" (a log from a box)
    box: str
    expires: float
    file: str | None = None  # download: the firmware file id


def safe_name(name: str, fallback: str) -> str:
    cleaned = _SAFE.sub("_", name.strip())[:80].strip("._")
    return cleaned or fallback


class Transfers:
    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.firmware_dir = Path(data_dir) / "firmware"
        self.logs_dir = Path(data_dir) / "logs"
        self.clock = clock
        self._tickets: dict[str, Ticket] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ one-time URLs

    def ticket(self, kind: str, box: str, file: str | None = None) -> str:
        """A new one-time token (expired ones are forgotten)."""
        now = self.clock()
        with self._lock:
            self._tickets = {t: k for t, k in self._tickets.items() if k.expires > now}
            token = secrets.token_urlsafe(24)
            self._tickets[token] = Ticket(kind, box, now + TOKEN_TTL_S, file)
        return token

    def _take(self, token: str, kind: str) -> Ticket:
        """The ticket, used up now; raises TransferError(404) when it does not work (any more)."""
        with self._lock:
            ticket = self._tickets.get(token)
            if ticket is None or ticket.kind != kind or ticket.expires <= self.clock():
                raise TransferError(404, "this transfer link is unknown, used or expired")
            del self._tickets[token]
        return ticket

    def check_download(self, token: str) -> None:
        """Raises TransferError(404) unless the firmware link works (without using it up)."""
        with self._lock:
            ticket = self._tickets.get(token)
            usable = ticket is not None and ticket.kind == "download"
            if not usable or ticket.expires <= self.clock():  # type: ignore[union-attr]
                raise TransferError(404, "this transfer link is unknown, used or expired")

    def take_download(self, token: str) -> Path:
        ticket = self._take(token, "download")
        path = self._file(self.firmware_dir, ticket.file or "")
        if path is None:
            raise TransferError(404, "the firmware file is gone")
        return path

    async def receive_upload(
        self, token: str, name: str, chunks: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        """Store a box's log upload (once per token); returns the file's row."""
        ticket = self._take(token, "upload")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(self.clock()))
        file_id = f"{safe_name(ticket.box, 'box')}-{stamp}-{safe_name(name, 'log.txt')}"
        await self._write(self.logs_dir, file_id, chunks, MAX_LOG)
        return {**self.describe(self.logs_dir, file_id), "box": ticket.box}

    # ------------------------------------------------------------------ files

    async def store_firmware(self, name: str, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(self.clock()))
        file_id = f"{stamp}-{secrets.token_hex(3)}-{safe_name(name, 'firmware.bin')}"
        await self._write(self.firmware_dir, file_id, chunks, MAX_FIRMWARE)
        return self.describe(self.firmware_dir, file_id)

    async def _write(
        self, folder: Path, file_id: str, chunks: AsyncIterator[bytes], limit: int
    ) -> None:
        """Chunks to a temp file, fsynced and renamed; disk work off the event loop."""
        fd, tmp = await asyncio.to_thread(_temp_in, folder)
        fh = os.fdopen(fd, "wb")
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TransferError(413, f"larger than {limit // (1024 * 1024)} MiB")
                await asyncio.to_thread(fh.write, chunk)
            await asyncio.to_thread(_finish, fh, tmp, folder / file_id)
        except BaseException:
            fh.close()
            await asyncio.to_thread(os.unlink, tmp)
            raise
        await asyncio.to_thread(self._prune, folder)

    def _prune(self, folder: Path) -> None:
        files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime)  # fmt: skip
        for old in files[:-MAX_FILES]:
            old.unlink(missing_ok=True)

    @staticmethod
    def _file(folder: Path, file_id: str) -> Path | None:
        if not file_id or safe_name(file_id, "") != file_id:
            return None
        path = folder / file_id
        return path if path.is_file() else None

    @staticmethod
    def describe(folder: Path, file_id: str) -> dict[str, Any]:
        stat = (folder / file_id).stat()
        return {"id": file_id, "size": stat.st_size, "stored": stat.st_mtime}

    def firmware_file(self, file_id: str) -> Path | None:
        return self._file(self.firmware_dir, file_id)

    def log_file(self, file_id: str) -> Path | None:
        return self._file(self.logs_dir, file_id)

    def list(self, kind: str, box: str | None = None) -> list[dict[str, Any]]:
        folder = self.firmware_dir if kind == "firmware" else self.logs_dir
        if not folder.is_dir():
            return []
        prefix = f"{safe_name(box, 'box')}-" if box else ""
        rows = [
            self.describe(folder, p.name)
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name.startswith(prefix)
        ]
        return sorted(rows, key=lambda r: r["stored"], reverse=True)

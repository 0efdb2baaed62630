"""TinyDB files that survive a power cut, and refuse to start on a broken file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage


class CorruptDataError(RuntimeError):
    """A data file exists but cannot be read. Never overwritten: the operator must look at it."""


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Temp file, fsync, rename over `path`, fsync the folder: the old or the new file, whole."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class AtomicJSONStorage(Storage):
    """Writes to a temp file, fsyncs it, renames it over the old one, and fsyncs the folder.

    A reader therefore sees either the old or the new complete file, never a torn one.
    """

    def __init__(self, path: str | os.PathLike[str], **_: Any) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CorruptDataError(f"cannot read data file {self.path}: {exc}") from exc
        if not text.strip():
            raise CorruptDataError(f"data file {self.path} is empty")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CorruptDataError(f"data file {self.path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise CorruptDataError(f"data file {self.path} does not hold a JSON object")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True)
        atomic_write(self.path, payload.encode("utf-8"))

    def close(self) -> None:
        pass


def open_db(path: str | os.PathLike[str]) -> TinyDB:
    """Open (or create) a TinyDB file with atomic writes; raises CorruptDataError on a bad file."""
    db = TinyDB(path, storage=AtomicJSONStorage)
    db.tables()  # read once now, so a broken file fails at start, not at the first write
    return db

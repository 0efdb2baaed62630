"""TinyDB files that survive a power cut, and refuse to start on a broken file."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from manager.files import atomic_write


class CorruptDataError(RuntimeError):
    """A data file exists but cannot be read. Never overwritten: the operator must look at it."""


class WriteFailed(OSError):
    """A data file could not be written (disk full, read-only, ...). The old file is intact."""

    def __init__(self, path: Path, exc: OSError) -> None:
        self.disk_full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        why = "the disk is full" if self.disk_full else (exc.strerror or str(exc))
        super().__init__(f"cannot write data file {path}: {why}")
        self.errno = exc.errno
        self.path = path


def _read_regular(path: Path) -> bytes:
    """The bytes of `path`; refuses anything but a regular file without blocking on it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CorruptDataError(f"data file {path} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def read_json_file(path: Path) -> Any | None:
    """Parsed JSON of `path`, None if it does not exist; CorruptDataError naming it otherwise."""
    try:
        raw = _read_regular(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptDataError(f"cannot read data file {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptDataError(f"data file {path} is not valid UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise CorruptDataError(f"data file {path} is empty")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CorruptDataError(f"data file {path} is not valid JSON: {exc}") from exc


def write_data_file(path: Path, data: bytes) -> None:
    """`atomic_write` for a data file: a failure is a WriteFailed naming the file; never tears."""
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise WriteFailed(path, exc) from exc


class AtomicJSONStorage(Storage):
    """A JSON object in a file: read strictly, written with `write_data_file`."""

    def __init__(self, path: str | os.PathLike[str], **_: Any) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> dict[str, dict[str, Any]] | None:
        data = read_json_file(self.path)
        if data is None:
            return None
        if not isinstance(data, dict):
            raise CorruptDataError(f"data file {self.path} does not hold a JSON object")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True)
        write_data_file(self.path, payload.encode("utf-8"))

    def close(self) -> None:
        pass


class TableStorage(AtomicJSONStorage):
    """TinyDB's layout on top: every table an object of numbered documents, each an object."""

    def read(self) -> dict[str, dict[str, Any]] | None:
        data = super().read()
        for name, table in (data or {}).items():
            if not isinstance(table, dict):
                raise CorruptDataError(f"data file {self.path}: table {name!r} is not an object")
            for key, doc in table.items():
                if not key.isdigit() or not isinstance(doc, dict):
                    raise CorruptDataError(
                        f"data file {self.path}: entry {key!r} of table {name!r} is not an object"
                        " under a number"
                    )
        return data


def open_db(path: str | os.PathLike[str]) -> TinyDB:
    """Open (or create) a TinyDB file with atomic writes; raises CorruptDataError on a bad file."""
    db = TinyDB(path, storage=TableStorage)
    db.tables()  # read once now, so a broken file fails at start, not at the first write
    return db

"""Backup and restore of the whole data directory as one archive.

An archive is a gzip'd tar holding `manifest.json` and the data directory under `data/`:
configuration, users and the admin login (config.json), sessions, events (by month), history,
the audit log and the OCPP server's certificate and key. Secrets are in it as they are on disk,
so an archive is to be kept like the data directory itself.

Restore never touches the data directory before the whole archive is checked: the files are
unpacked into a staging folder beside it, every file is validated (and migrated to the current
schema), and only then is the staging folder switched with the data directory in one atomic
rename (Linux `renameat2(RENAME_EXCHANGE)`). The previous data stays beside it as
`<data>.before-restore-<time>`.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from manager.config import (
    SCHEMA_VERSION,
    CircuitConfig,
    EvseConfig,
    MeterConfig,
    Settings,
    check_tree,
)
from manager.files import atomic_write
from manager.users import UserConfig
from manager.version import VERSION

log = logging.getLogger("ampshare.backup")

FORMAT = "ampshare-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PREFIX = "data/"
#: an archive larger than this is refused before it is unpacked (bytes, unpacked)
MAX_UNPACKED = 512 * 1024 * 1024

#: config schema migrations: MIGRATIONS[n] turns schema n's tables into schema n+1's
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class BadArchive(ValueError):
    """The archive cannot be restored; the message names the file and the problem."""


def _files(data_dir: Path) -> list[Path]:
    """Every file to back up: all but hidden ones (temp files, the lock)."""
    out = []
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            out.append(path)
    return out


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def create(data_dir: Path, extra: dict[str, bytes] | None = None) -> bytes:
    """The archive of `data_dir` as bytes; `extra` adds or replaces files (relative names)."""
    data_dir = Path(data_dir)
    contents: dict[str, tuple[bytes, int]] = {}
    for path in _files(data_dir):
        rel = path.relative_to(data_dir).as_posix()
        contents[rel] = (path.read_bytes(), path.stat().st_mode & 0o777)
    for rel, data in (extra or {}).items():
        contents[rel] = (data, 0o600)
    if "config.json" not in contents:
        raise BadArchive(f"{data_dir} holds no config.json: nothing to back up")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ampshare_version": VERSION,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "contains_secrets": True,
        "files": {rel: hashlib.sha256(d).hexdigest() for rel, (d, _) in sorted(contents.items())},
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        _add(tar, MANIFEST, json.dumps(manifest, indent=1).encode(), 0o644)
        for rel, (data, mode) in sorted(contents.items()):
            _add(tar, PREFIX + rel, data, mode)
    return buf.getvalue()


# -- reading and checking --------------------------------------------------------------------
def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not name.startswith(PREFIX):
        raise BadArchive(f"archive member {name!r} is outside data/")
    rel = name[len(PREFIX) :]
    if not rel or any(part.startswith(".") for part in PurePosixPath(rel).parts):
        raise BadArchive(f"archive member {name!r} is not a data file")
    return rel


def read(archive: bytes) -> tuple[dict[str, Any], dict[str, tuple[bytes, int]]]:
    """Manifest and files {relative name: (bytes, mode)}; raises BadArchive."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BadArchive(f"not an ampshare backup (gzip'd tar): {exc}") from None
    files: dict[str, tuple[bytes, int]] = {}
    manifest: dict[str, Any] | None = None
    total = 0
    try:
        with tar:
            for member in tar:
                if member.isdir():
                    continue
                if not member.isfile():
                    raise BadArchive(f"archive member {member.name!r} is not a regular file")
                total += member.size
                if total > MAX_UNPACKED:
                    raise BadArchive("archive unpacks to more than 512 MB")
                fh = tar.extractfile(member)
                data = fh.read() if fh else b""
                if member.name == MANIFEST:
                    manifest = _json(MANIFEST, data)
                    continue
                files[_safe_name(member.name)] = (data, member.mode & 0o777)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BadArchive(f"archive is damaged: {exc}") from None
    if manifest is None:
        raise BadArchive("archive has no manifest.json")
    _check_manifest(manifest, files)
    return manifest, files


def _json(name: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadArchive(f"{name} is not valid JSON: {exc}") from None


def _check_manifest(manifest: Any, files: dict[str, tuple[bytes, int]]) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadArchive("manifest.json is not an ampshare backup manifest")
    fmt = manifest.get("format_version")
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise BadArchive(f"archive format {fmt!r} is from a newer ampshare; upgrade first")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or set(listed) != set(files):
        raise BadArchive("archive files do not match its manifest")
    for rel, (data, _) in files.items():
        if hashlib.sha256(data).hexdigest() != listed[rel]:
            raise BadArchive(f"{rel} is damaged (checksum differs)")


def _tables(name: str, data: Any) -> dict[str, dict[str, Any]]:
    """A TinyDB file: {table: {doc id: document}}."""
    if not isinstance(data, dict) or not all(
        isinstance(t, dict) and all(isinstance(d, dict) for d in t.values()) for t in data.values()
    ):
        raise BadArchive(f"{name} is not a data table file")
    return data


def _migrate(tables: dict[str, Any]) -> dict[str, Any]:
    meta = (tables.get("meta") or {}).get("1")
    if not isinstance(meta, dict) or not isinstance(meta.get("schema_version"), int):
        raise BadArchive("config.json has no schema version")
    version = meta["schema_version"]
    if version > SCHEMA_VERSION:
        raise BadArchive(f"config.json is from a newer ampshare (schema {version}); upgrade first")
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise BadArchive(f"config.json schema {version} cannot be migrated")
        tables = step(tables)
        version += 1
    meta["schema_version"] = SCHEMA_VERSION
    return tables


def _check_config(data: bytes) -> bytes:
    """Validates every table (after migration) and returns the file in the current shape."""
    tables = _migrate(_tables("config.json", _json("config.json", data)))
    errors: list[str] = []

    def each(table: str, check: Callable[[dict[str, Any]], Any]) -> list[Any]:
        out = []
        for doc_id, doc in sorted((tables.get(table) or {}).items()):
            try:
                out.append(check(doc))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                errors.append(f"config.json {table} #{doc_id}: {where}: {first['msg']}")
        return out

    settings = each("settings", Settings.model_validate)
    circuits = each("circuits", CircuitConfig.model_validate)
    each("users", UserConfig.model_validate)
    each("devices", _device)
    if errors:
        raise BadArchive("; ".join(errors[:5]))
    try:
        check_tree(circuits)
    except ValueError as exc:
        raise BadArchive(f"config.json circuits: {exc}") from None
    if settings:  # written back in the current shape: new sections get their defaults
        tables["settings"] = {"1": settings[0].model_dump(mode="json")}
    return json.dumps(tables, separators=(",", ":"), sort_keys=True).encode()


def _device(doc: dict[str, Any]) -> Any:
    model = EvseConfig if doc.get("kind") == "evse" else MeterConfig
    return model.model_validate(doc)


def _check_sessions(name: str, data: bytes) -> None:
    for table in _tables(name, _json(name, data)).values():
        for doc in table.values():
            if name.endswith("meta.json"):
                continue
            if not isinstance(doc.get("evse"), str) or not isinstance(doc.get("started_at"), str):
                raise BadArchive(f"{name} holds a session without wallbox or start time")


def _check_events(name: str, data: bytes) -> None:
    """A month of the event log (manager/events.py): a table of events, each with its kind."""
    for table in _tables(name, _json(name, data)).values():
        if not all(isinstance(e.get("kind"), str) for e in table.values()):
            raise BadArchive(f"{name} is not an event list")


def _check_pem(name: str, data: bytes) -> None:
    try:
        if name.endswith(".key"):
            serialization.load_pem_private_key(data, password=None)
        else:
            x509.load_pem_x509_certificates(data)
    except (ValueError, TypeError) as exc:
        raise BadArchive(f"{name} is not a valid PEM file: {exc}") from None


def check(files: dict[str, tuple[bytes, int]]) -> dict[str, tuple[bytes, int]]:
    """Validates every file; returns the files to write (config migrated). Raises BadArchive."""
    if "config.json" not in files:
        raise BadArchive("archive holds no config.json")
    out = dict(files)
    for rel, (data, mode) in files.items():
        if rel == "config.json":
            out[rel] = (_check_config(data), mode)
        elif rel.startswith("sessions/") and rel.endswith(".json"):
            _check_sessions(rel, data)
        elif rel.startswith("events/") and rel.endswith(".json"):
            _check_events(rel, data)
        elif rel.endswith((".crt", ".key", ".pem")):
            _check_pem(rel, data)
        elif rel.endswith(".json"):
            _json(rel, data)  # files of other parts: at least whole JSON
    return out


# -- switching -------------------------------------------------------------------------------
def stage(archive: bytes, data_dir: Path) -> Path:
    """Checks the whole archive and unpacks it into a folder beside `data_dir`.

    Nothing in `data_dir` is touched. Returns the staging folder for `switch`.
    """
    manifest, files = read(archive)
    files = check(files)
    data_dir = Path(data_dir).absolute()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.restore-", dir=data_dir.parent))
    try:
        for rel, (data, mode) in files.items():
            target = staged / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data, (mode & 0o644) | 0o600)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    log.info(
        "backup from ampshare %s (%s) checked: %d files",
        manifest.get("ampshare_version"),
        manifest.get("created"),
        len(files),
    )
    return staged


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swaps two paths (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, bytes(a), at_fdcwd, bytes(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"cannot switch {b} with the restored data: {os.strerror(err)}")


def switch(staged: Path, data_dir: Path) -> Path | None:
    """Makes the staged folder the data directory; returns where the previous data now is."""
    data_dir = Path(data_dir).absolute()
    for sub in [staged, *[p for p in staged.rglob("*") if p.is_dir()]]:
        _fsync_dir(sub)
    if not data_dir.exists():
        os.rename(staged, data_dir)
        _fsync_dir(data_dir.parent)
        return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = data_dir.with_name(f"{data_dir.name}.before-restore-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = data_dir.with_name(f"{data_dir.name}.before-restore-{stamp}-{n}")
    if _exchange(staged, data_dir):
        os.rename(staged, kept)  # `staged` now names the previous data
    else:  # two renames: a crash between them leaves the data in `kept`, never half of it
        os.rename(data_dir, kept)
        os.rename(staged, data_dir)
    _fsync_dir(data_dir.parent)
    log.warning("data restored from a backup; the previous data is in %s", kept)
    return kept


def restore(archive: bytes, data_dir: Path) -> Path | None:
    """Checks, stages and switches in one go (the manager must not be running)."""
    return switch(stage(archive, data_dir), data_dir)


def discard(staged: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)


class InUse(OSError):
    """The data directory belongs to a running manager."""


class DataLock:
    """Held by a running manager (a lock file beside the data directory), so that a restore
    from the command line cannot pull the data from under it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.path = self.data_dir.with_name(f".{self.data_dir.name}.lock")
        self._fd: int | None = None

    def __enter__(self) -> DataLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InUse(f"an ampshare is running on {self.data_dir}; stop it first") from None
        self._fd = fd
        return self

    def __exit__(self, *_: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None

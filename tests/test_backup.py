"""Backup and restore: a populated data directory round trip, the CLI, the web restore with its
restart, and damaged or foreign archives that are refused with the data left untouched."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import pytest
from manager_process import PASSWORD, ManagerProcess

from manager import backup
from manager.auth import hash_password
from manager.config import CircuitConfig, Settings
from manager.configstore import ConfigStore
from manager.events import EventLog
from manager.sessions import SessionStore
from manager.users import UserBook, UserConfig

MONTH = "sessions-2026-11.json"
KEY = b"""-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2
OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r
1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G
-----END PRIVATE KEY-----
"""


def populate(data: Path, admin_hash: str = "scrypt$fake$hash") -> None:
    """A data directory as a running site leaves it: every kind of file, secrets included."""
    store = ConfigStore(data)
    settings = Settings()
    settings.site.max_current_a = 40.0
    settings.mqtt.host = "broker.lan"
    settings.mqtt.password = "mqtt-secret"
    store.save_settings(settings)
    store.set_admin_hash(admin_hash)
    store.put_circuit(CircuitConfig(id="garage", name="Garage", max_current_a=16.0))
    store.put_device(
        {"id": "box", "name": "Box", "kind": "evse", "driver": "ocpp", "enabled": True,
         "address": "BOX1", "circuit": "garage", "max_current_a": 16.0,
         "password": "box-secret"}
    )  # fmt: skip
    store.put_user(UserConfig(id="anna", name="Anna", id_tag="04A1B2"))
    store.close()
    sessions = SessionStore(data)
    sid = sessions.start("box", 1, "04A1B2", "2026-11-02T10:00:00Z", 1000.0)
    sessions.stop(sid, "2026-11-02T12:00:00Z", 12000.0)
    sessions.start("box", 1, None, "2026-12-01T08:00:00Z", 12000.0)
    sessions.close()
    events = EventLog(data)  # stored by month under events/, each event as it happens
    events("overload", "grid L1 at 41 A", device=None)
    (data / "ocpp").mkdir()
    (data / "ocpp" / "server.key").write_bytes(KEY)
    (data / "history.json").write_text(json.dumps({"points": [{"ts": "x", "grid_w": 1.0}]}))


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    source = tmp_path / "a" / "data"
    populate(source)
    archive = backup.create(source)
    target = tmp_path / "b" / "data"
    assert backup.restore(archive, target) is None  # nothing there before: nothing to keep
    assert tree(target) == tree(source)
    store = ConfigStore(target)
    assert store.settings().mqtt.password == "mqtt-secret"  # secrets are in the backup
    assert store.admin_hash() == "scrypt$fake$hash"
    assert [d["id"] for d in store.devices()] == ["box"]
    assert UserBook(store).by_tag("04a1b2") is not None  # the users table came along
    store.close()
    sessions = SessionStore(target)
    assert len(sessions.list()) == 2
    sessions.close()
    assert [p.parent.name for p in target.glob("events/events-*.json")] == ["events"]
    assert EventLog(target).recent()[0]["kind"] == "overload"


def test_restore_over_existing_data_keeps_the_previous(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "site" / "data"
    populate(old)
    archive = backup.create(old)
    new.mkdir(parents=True)
    (new / "config.json").write_text('{"meta": {"1": {"schema_version": 1, "secret": "ab"}}}')
    before = tree(new)
    kept = backup.restore(archive, new)
    assert kept is not None and kept.parent == new.parent
    assert kept.name.startswith("data.before-restore-")
    assert tree(kept) == before
    assert tree(new) == tree(old)
    assert not [p for p in new.parent.iterdir() if ".restore-" in p.name]  # no staging left


def _rebuild(archive: bytes, change: dict[str, bytes | None], fix_manifest: bool = True) -> bytes:
    """The archive with files replaced or removed; the manifest updated to match if asked."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    for name, data in change.items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    if fix_manifest:
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = {
            n.removeprefix("data/"): hashlib.sha256(d).hexdigest()
            for n, d in files.items()
            if n.startswith("data/")
        }
        files["manifest.json"] = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _config(archive: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return json.loads(tar.extractfile("data/config.json").read())  # type: ignore[union-attr]


def _bad_archives(good: bytes) -> dict[str, bytes]:
    config = _config(good)
    bad_device = json.loads(json.dumps(config))
    next(iter(bad_device["devices"].values()))["max_current_a"] = "lots"
    bad_user = json.loads(json.dumps(config))
    next(iter(bad_user["users"].values()))["tags"] = ["no spaces allowed"]
    bad_circuit = json.loads(json.dumps(config))
    next(iter(bad_circuit["circuits"].values()))["parent"] = "nowhere"
    newer = json.loads(json.dumps(config))
    newer["meta"]["1"]["schema_version"] = 99
    manifest = json.loads(_member(good, "manifest.json"))
    events = next("data/" + n for n in manifest["files"] if n.startswith("events/"))
    future = dict(manifest, format_version=99)
    return {
        "truncated": good[: len(good) // 2],
        "not gzip": b"hello, this is not an archive",
        "gzip but not tar": gzip.compress(b"x" * 1000),
        "flipped byte": _rebuild(good, {events: b'{"_default": {}} '}, False),
        "no manifest": _rebuild(good, {"manifest.json": None}, False),
        "no config": _rebuild(good, {"data/config.json": None}),
        "config not json": _rebuild(good, {"data/config.json": b"{nope"}),
        "bad device": _rebuild(good, {"data/config.json": json.dumps(bad_device).encode()}),
        "bad user": _rebuild(good, {"data/config.json": json.dumps(bad_user).encode()}),
        "bad circuit": _rebuild(good, {"data/config.json": json.dumps(bad_circuit).encode()}),
        "newer schema": _rebuild(good, {"data/config.json": json.dumps(newer).encode()}),
        "newer format": _rebuild(good, {"manifest.json": json.dumps(future).encode()}, False),
        "bad session": _rebuild(good, {f"data/sessions/{MONTH}": b'{"_default": {"1": {}}}'}),
        "bad key": _rebuild(good, {"data/ocpp/server.key": b"-----BEGIN PRIVATE KEY-----\nxx"}),
        "bad events": _rebuild(good, {events: b'{"_default": {"1": {"kind": 3}}}'}),
        "escaping path": _rebuild(good, {"data/../evil.json": b"{}"}),
    }  # fmt: skip


def _member(archive: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


def test_damaged_or_foreign_archives_are_refused_and_nothing_changes(tmp_path: Path) -> None:
    data = tmp_path / "site" / "data"
    populate(data)
    good = backup.create(data)
    before = tree(data)
    for what, archive in _bad_archives(good).items():
        with pytest.raises(backup.BadArchive):
            backup.restore(archive, data)
        assert tree(data) == before, what
        assert sorted(p.name for p in data.parent.iterdir()) == ["data"], what


def test_older_config_migrates(tmp_path: Path) -> None:
    """An archive from before the mqtt and metrics settings existed gets their defaults."""
    data = tmp_path / "old" / "data"
    populate(data)
    good = backup.create(data)
    config = _config(good)
    settings = config["settings"]["1"]
    settings.pop("mqtt"), settings.pop("metrics")
    manifest = json.loads(_member(good, "manifest.json"))
    manifest["ampshare_version"] = "0.0.9"
    older = _rebuild(
        good,
        {
            "data/config.json": json.dumps(config).encode(),
            "manifest.json": json.dumps(manifest).encode(),
        },
    )
    target = tmp_path / "new" / "data"
    backup.restore(older, target)
    store = ConfigStore(target)
    assert store.settings().mqtt.base_topic == "ampshare" and store.settings().mqtt.host == ""
    assert store.settings().site.max_current_a == 40.0
    store.close()


def test_cli_backup_and_restore(tmp_path: Path) -> None:
    data = tmp_path / "site" / "data"
    populate(data)
    archive = tmp_path / "b.tar.gz"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "manager.cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    out = cli("backup", "--data", str(data), str(archive))
    assert out.returncode == 0, out.stderr
    assert "passwords and keys" in out.stdout
    assert archive.stat().st_mode & 0o077 == 0  # only the owner may read it
    target = tmp_path / "new" / "data"
    out = cli("restore", "--data", str(target), str(archive))
    assert out.returncode == 0, out.stderr
    assert tree(target) == tree(data)
    corrupt = tmp_path / "bad.tar.gz"
    corrupt.write_bytes(archive.read_bytes()[:100])
    before = tree(target)
    out = cli("restore", "--data", str(target), str(corrupt))
    assert out.returncode == 2 and "nothing changed" in out.stderr
    assert "Traceback" not in out.stderr
    assert tree(target) == before
    missing = cli("backup", "--data", str(tmp_path / "nothing"), str(tmp_path / "x.tar.gz"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_web_backup_and_restore_restarts_on_the_restored_data(tmp_path: Path) -> None:
    other = tmp_path / "other" / "data"
    populate(other, hash_password(PASSWORD))
    archive = backup.create(other)
    data = tmp_path / "site" / "data"
    proc = ManagerProcess("serve", data_dir=data)
    try:
        proc.wait_ready()
        got = proc.api.get("/api/backup")
        assert got.status_code == 200
        assert got.headers["content-disposition"].startswith("attachment; filename=")
        assert "config.json" in backup.read(got.content)[1]

        bad = proc.api.post("/api/restore", content=archive[:200])
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "archive"
        assert proc.api.get("/api/devices").json() == []

        # the command line may not pull the data from under the running manager
        busy = subprocess.run(
            [sys.executable, "-m", "manager.cli", "restore", "--data", str(data), "-"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert busy.returncode == 1
        stored = tmp_path / "b.tar.gz"
        stored.write_bytes(archive)
        busy = subprocess.run(
            [sys.executable, "-m", "manager.cli", "restore", "--data", str(data), str(stored)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert busy.returncode == 1 and "running" in busy.stderr

        ok = proc.api.post("/api/restore", content=archive)
        assert ok.status_code == 200 and ok.json()["restarting"] is True
        # the same process comes back on the restored data, with its admin login
        deadline, state = time.monotonic() + 30, {}
        while time.monotonic() < deadline:  # down for a moment while it restarts
            try:
                state = proc.api.get("/api/state").json()
                if [e["id"] for e in state["evses"]] == ["box"]:
                    break
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.1)
        assert state["site"]["limit_a"][0] == 40.0
        assert proc.proc.poll() is None
        kept = [p for p in data.parent.iterdir() if p.name.startswith("data.before-restore-")]
        assert len(kept) == 1
    finally:
        proc.stop()


def test_data_the_manager_would_not_start_on_is_not_restored(tmp_path: Path) -> None:
    """The archive's own checks pass, but the drivers refuse a device (a field the sim box does
    not have): the restore reads the staged data as start-up does and leaves everything."""
    source, target = tmp_path / "a" / "data", tmp_path / "b" / "data"
    populate(source)
    store = ConfigStore(source)
    store.put_device(
        {"id": "sim", "name": "Sim", "kind": "evse", "driver": "sim-evse", "enabled": True,
         "address": "", "circuit": "garage", "max_current_a": 16.0, "password": "nope"}
    )  # fmt: skip
    store.close()
    stored = tmp_path / "a.tar.gz"
    stored.write_bytes(backup.create(source))
    populate(target)
    before = tree(target)
    out = subprocess.run(
        [sys.executable, "-m", "manager.cli", "restore", "--data", str(target), str(stored)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and "device 'sim' is invalid" in out.stderr, out.stderr
    assert tree(target) == before
    assert not [p for p in target.parent.iterdir() if ".restore-" in p.name]  # no staging left

"""kill -9 while config is being written: the file always loads and acknowledged changes stay."""

from __future__ import annotations

import errno
import os
import random
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from manager_process import PASSWORD, ManagerProcess
from ports import free_port

from manager.configstore import ConfigStore

KILLS = 200


def _writer(data_dir: Path, write_fd: int, start: int) -> None:
    """Child process: write devices forever, acknowledging each after the store returns."""
    store = ConfigStore(data_dir)
    n = start
    while True:
        store.put_device(
            {"id": f"d{n}", "name": f"Device {n}", "kind": "meter", "driver": "sim-meter"}
        )
        os.write(write_fd, f"{n}\n".encode())
        n += 1


def test_kill_9_in_a_loop_never_breaks_the_file(tmp_path: Path) -> None:
    rng = random.Random(7)
    acked: set[int] = set()
    next_id = 0
    for _ in range(KILLS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            try:
                _writer(tmp_path, write_fd, next_id)
            finally:
                os._exit(0)
        os.close(write_fd)
        time.sleep(rng.uniform(0.005, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(read_fd) as pipe:
            acked.update(int(line) for line in pipe.read().split())
        store = ConfigStore(tmp_path)  # must load every time
        stored = {int(d["id"][1:]) for d in store.devices()}
        store.close()
        assert acked <= stored, f"acknowledged but lost: {sorted(acked - stored)[:5]}"
        next_id = max(stored | acked | {-1}) + 1
    assert len(acked) >= KILLS // 10  # the children really wrote (fsync speed varies)


@pytest.mark.slow
def test_kill_9_of_the_server_keeps_every_acknowledged_api_change(tmp_path: Path) -> None:
    data = tmp_path / "data"
    acked: list[str] = []
    for round_no in range(8):
        proc = ManagerProcess("serve", data_dir=data)
        proc.wait_ready()
        stop = threading.Event()

        def post_devices(
            proc: ManagerProcess = proc, round_no: int = round_no, stop: threading.Event = stop
        ) -> None:
            with httpx.Client(base_url=proc.url, auth=proc.api.auth, timeout=5) as client:
                for i in range(1000):
                    if stop.is_set():
                        return
                    body = {"kind": "meter", "driver": "sim-meter", "name": f"m{round_no}-{i}"}
                    try:
                        response = client.post("/api/devices", json=body)
                    except httpx.TransportError:
                        return
                    if response.status_code in (200, 201):
                        acked.append(response.json()["id"])

        thread = threading.Thread(target=post_devices)
        thread.start()
        time.sleep(0.3 + 0.1 * round_no)
        proc.kill()
        stop.set()
        thread.join(timeout=10)
    check = ManagerProcess("serve", data_dir=data)
    try:
        check.wait_ready()
        stored = {d["id"] for d in check.api.get("/api/devices").json()}
    finally:
        check.stop()
    assert acked and set(acked) <= stored


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def fill(path: Path) -> None:
    """Writes `path` until the file system is full (a real ENOSPC, no monkeypatching)."""
    chunk = b"\0" * 65536
    with path.open("wb") as fh:
        for _ in range(10_000):  # bounded: 640 MB at most, far above the tmpfs size
            try:
                fh.write(chunk)
                fh.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return
    raise AssertionError("the file system never filled up")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs, so that a write can really fail with "no space left on device"."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the file-size-limit test covers the rest")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def refused_and_nothing_changed(proc: ManagerProcess, status: int, why: str) -> None:
    """Every kind of change fails with `status`; what runs and what is stored stay as they were."""
    api = proc.api
    meter = {"kind": "meter", "driver": "sim-meter", "name": "Another", "role": "grid"}
    devices, settings = api.get("/api/devices").json(), api.get("/api/settings").json()
    resp = api.post("/api/devices", json=meter)
    assert resp.status_code == status, resp.text
    assert why in resp.json()["error"]
    new_port = free_port()
    resp = api.patch("/api/settings", json={"ocpp": {"port": new_port}})
    assert resp.status_code == status, resp.text
    assert not listening(new_port) and listening(proc.ocpp_port)
    assert api.patch("/api/settings", json={"site": {"max_current_a": 50}}).status_code == status
    change = {"old_password": PASSWORD, "new_password": "other-pw"}
    assert api.post("/api/admin/password", json=change).status_code == status
    assert api.get("/api/devices").json() == devices
    assert api.get("/api/settings").json() == settings
    assert proc.state()["site"]["limit_a"][0] == settings["site"]["max_current_a"]
    with httpx.Client(base_url=proc.url, auth=("admin", PASSWORD)) as fresh:
        assert fresh.get("/api/state").status_code == 200  # the old password still holds


GRID = {"kind": "meter", "driver": "sim-meter", "name": "Grid", "role": "grid"}


@pytest.mark.slow
def test_a_full_disk_is_a_507_and_nothing_changes(small_disk: Path) -> None:
    proc = ManagerProcess("serve", data_dir=small_disk / "data")
    try:
        proc.wait_ready()
        assert proc.api.post("/api/devices", json=GRID).status_code == 201
        fill(small_disk / "filler")
        refused_and_nothing_changed(proc, 507, "disk is full")
        (small_disk / "filler").unlink()
        resp = proc.api.post("/api/devices", json={**GRID, "name": "Another"})
        assert resp.status_code == 201
    finally:
        proc.stop()
    stored = ConfigStore(small_disk / "data")  # and what is on disk loads
    assert sorted(d["name"] for d in stored.devices()) == ["Another", "Grid"]
    stored.close()


@pytest.mark.slow
def test_a_write_past_the_file_size_limit_is_a_503_and_nothing_changes(tmp_path: Path) -> None:
    """Without root: the kernel refuses the write (EFBIG) once the file outgrows RLIMIT_FSIZE."""
    proc = ManagerProcess("serve", data_dir=tmp_path / "data")
    try:
        proc.wait_ready()
        assert proc.api.post("/api/devices", json=GRID).status_code == 201
        limit = 64  # bytes: every data file is larger
        resource.prlimit(proc.proc.pid, resource.RLIMIT_FSIZE, (limit, limit))
        refused_and_nothing_changed(proc, 503, "too large")
    finally:
        proc.stop()

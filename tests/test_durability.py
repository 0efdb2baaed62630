"""kill -9 while config is being written: the file always loads and acknowledged changes stay."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from manager_process import ManagerProcess

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

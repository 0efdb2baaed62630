"""Start `ampshare serve` or `ampshare demo` as a real process on loopback for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from ports import free_port

PASSWORD = "test-admin-pw"


class ManagerProcess:
    """One running manager; `api` is an httpx client logged in as admin. Always `stop()` it."""

    def __init__(self, command: str, data_dir: Path | None = None, **env: str) -> None:
        self.http_port = free_port()
        self.ocpp_port = free_port()
        self.data_dir = data_dir
        args = [
            sys.executable, "-m", "manager.cli", command,
            "--host", "127.0.0.1",
            "--http-port", str(self.http_port),
            "--ocpp-port", str(self.ocpp_port),
        ]  # fmt: skip
        if data_dir is not None:
            args += ["--data", str(data_dir)]
        environment = {**os.environ, "AMPSHARE_ADMIN_PASSWORD": PASSWORD, **env}
        self.proc = subprocess.Popen(
            args,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.http_port}"
        self._printed = ""
        self.api = httpx.Client(base_url=self.url, auth=("admin", PASSWORD), timeout=10.0)

    def wait_ready(self, timeout_s: float = 45.0) -> float:
        """Seconds until /api/state answered; raises with the process output if it never did."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ampshare exited {self.proc.returncode}:\n{self.output()}")
            try:
                if self.api.get("/api/state").status_code == 200:
                    return time.monotonic() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"ampshare not ready in {timeout_s} s:\n{self.output()}")

    def wait_for_port(self, timeout_s: float = 20.0) -> None:
        """Until the web server answers at all (for a process started with another password)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ampshare exited {self.proc.returncode}:\n{self.output()}")
            try:
                httpx.get(f"{self.url}/login", timeout=2.0)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"ampshare not listening within {timeout_s} s")

    def state(self) -> dict[str, Any]:
        response = self.api.get("/api/state")
        response.raise_for_status()
        return response.json()

    def wait_for(self, predicate: Any, timeout_s: float = 15.0) -> dict[str, Any]:
        """Polls /api/state until predicate(state) holds; bounded in time."""
        deadline = time.monotonic() + timeout_s
        state = self.state()
        while not predicate(state):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached in {timeout_s} s; last state {state}")
            time.sleep(0.2)
            state = self.state()
        return state

    def output(self) -> str:
        """What the process printed; empty while it still runs (reading would block)."""
        if self.proc.stdout is None or self.proc.poll() is None:
            return self._printed
        if not self.proc.stdout.closed:
            self._printed += self.proc.stdout.read()
        return self._printed

    def _close_output(self) -> None:
        self.output()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        self.api.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._close_output()

    def kill(self) -> None:
        """SIGKILL, as a power cut would."""
        self.api.close()
        self.proc.kill()
        self.proc.wait(timeout=5)
        self._close_output()


@contextmanager
def running(mode: str, **kwargs: Any) -> Iterator[ManagerProcess]:
    """`ampshare demo` or `serve` as a process on free loopback ports, stopped at the end."""
    proc = ManagerProcess(mode, **kwargs)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()

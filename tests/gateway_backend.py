"""The Node `ocpp-rpc` billing backend (tests/interop/backend.js) as a test fixture.

It runs as a real process in strict schema mode and reports every request it receives as a JSON
line; `call()` makes it send a command to a connected charge point. Always `stop()` it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

INTEROP = Path(__file__).parent / "interop"


def node() -> str:
    found = shutil.which("node") or shutil.which("nodejs")
    if found is None or not (INTEROP / "node_modules" / "ocpp-rpc").is_dir():
        pytest.skip("Node.js with ocpp-rpc (tests/interop) is needed")
    return found


class Backend:
    def __init__(self, **cfg: Any) -> None:
        self.cfg = {"password": "backend-secret-1", "protocols": ["ocpp1.6"], **cfg}
        self.lines: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._ref = 0
        self.proc = subprocess.Popen(
            [node(), "backend.js", json.dumps(self.cfg)],
            cwd=INTEROP,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = int(self.wait("listening", timeout_s=15)["port"])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "output", "text": line.rstrip()}
            with self._cond:
                self.lines.append(event)
                self._cond.notify_all()

    @property
    def url(self) -> str:
        scheme = "wss" if self.cfg.get("tls") else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ocpp"

    def events(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        with self._cond:
            return [
                e
                for e in self.lines
                if e.get("event") == kind and all(e.get(k) == v for k, v in match.items())
            ]

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.events("call") if method is None or c["method"] == method]

    def wait(self, kind: str, timeout_s: float = 20.0, **match: Any) -> dict[str, Any]:
        return self.wait_until(lambda: (self.events(kind, **match) or [None])[-1], timeout_s)

    def wait_until(self, predicate: Any, timeout_s: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                self._cond.release()
                try:
                    found = predicate()
                finally:
                    self._cond.acquire()
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    tail = self.lines[-15:]
                    raise AssertionError(f"backend: condition not met in {timeout_s} s: {tail}")
                self._cond.wait(min(left, 0.2))

    def call(self, identity: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a command to a charge point; returns {"result"} or {"error"}."""
        self._ref += 1
        ref = self._ref
        self.send({"cmd": "call", "ref": ref, "identity": identity, "method": method,
                   "params": params})  # fmt: skip
        return self.wait("reply", ref=ref)

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL: the backend vanishes without closing its connections."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)

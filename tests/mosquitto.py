"""Debian's mosquitto as a real MQTT broker for tests: a free loopback port, a generated config."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from ports import free_port

MOSQUITTO = Path("/usr/sbin/mosquitto")


class Broker:
    """One mosquitto process; `restart()` keeps the port, `stop()` always ends it."""

    def __init__(self, folder: Path, extra: str = "") -> None:
        """`extra`: more lines for the listener (TLS files, a password file)."""
        if not MOSQUITTO.exists():
            raise RuntimeError("mosquitto is missing: apt-get install mosquitto (make test does)")
        self.port = free_port()
        self.folder = folder
        self.config = folder / "mosquitto.conf"
        anonymous = "false" if "password_file" in extra else "true"
        self.config.write_text(
            f"user root\nper_listener_settings false\npersistence false\n"
            f"allow_anonymous {anonymous}\nlistener {self.port} 127.0.0.1\n{extra}"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        log = open(self.folder / "mosquitto.log", "ab")  # closed in stop()
        self.proc = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.config)], stdout=log, stderr=log
        )
        self._log = log
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("mosquitto did not listen within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.folder / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

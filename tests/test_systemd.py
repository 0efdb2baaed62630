"""`ampshare install-service`: the unit it writes passes `systemd-analyze verify` and carries a
dedicated user, Restart=on-failure and the hardening set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from manager import systemd

ANALYZE = shutil.which("systemd-analyze")


def _unit(tmp_path: Path, *args: str) -> Path:
    out = subprocess.run(
        [sys.executable, "-m", "manager.cli", "install-service", "--print", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    path = tmp_path / systemd.UNIT_NAME
    path.write_text(out.stdout)
    return path


def _keys(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, value)
    return out


@pytest.mark.parametrize("args", [(), ("--http-port", "80", "--user", "evse")])
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert ANALYZE, "systemd-analyze is missing: apt-get install systemd"
    path = _unit(tmp_path, *args)
    result = subprocess.run(
        [ANALYZE, "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    # verify reports unknown keys and bad values as warnings naming the file; none may appear
    complaints = [line for line in result.stderr.splitlines() if str(path) in line]
    assert result.returncode == 0 and not complaints, result.stderr


def test_unit_keys(tmp_path: Path) -> None:
    keys = _keys(_unit(tmp_path))
    assert keys["User"] == keys["Group"] == "ampshare"
    assert keys["Restart"] == "on-failure"
    assert keys["StateDirectory"] == "ampshare"
    exe, command, *rest = keys["ExecStart"].split()
    assert os.access(exe, os.X_OK) and command == "serve"
    assert rest[:2] == ["--data", "/var/lib/ampshare/data"]
    for key, value in systemd.HARDENING:
        assert keys[key] == value
    assert keys["NoNewPrivileges"] == "yes" and keys["ProtectSystem"] == "strict"
    assert keys["CapabilityBoundingSet"] == ""  # no capability at all on port 8080
    assert "AmbientCapabilities" not in keys
    low = _keys(_unit(tmp_path, "--http-port", "80"))
    assert low["CapabilityBoundingSet"] == low["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"

"""`ampshare install-service`: a systemd unit that runs the manager as its own user.

The unit restarts the manager when it fails, keeps its data in /var/lib/ampshare (systemd's
StateDirectory, owned by the service user) and takes away what the manager does not need:
writing outside its data, other users' homes, privileges, kernel settings. Serial ports for
Modbus RTU stay reachable through the `dialout` group.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from manager.files import atomic_write

UNIT_NAME = "ampshare.service"
STATE_DIR = Path("/var/lib/ampshare")

#: what the manager does not need; each line keeps a class of mistakes or attacks out
HARDENING = (
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("PrivateTmp", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("RemoveIPC", "yes"),
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("UMask", "0077"),
)


@dataclass
class UnitOptions:
    user: str = "ampshare"
    data_dir: Path = STATE_DIR / "data"
    host: str = "0.0.0.0"
    http_port: int = 8080
    ocpp_port: int | None = None
    executable: str | None = None


def executable() -> str:
    """The `ampshare` script of this installation (its venv), else this Python with -m."""
    script = Path(sys.executable).parent / "ampshare"
    if script.exists():
        return str(script)
    found = shutil.which("ampshare")
    return found or f"{sys.executable} -m manager.cli"


def unit_text(opts: UnitOptions) -> str:
    exe = opts.executable or executable()
    command = f"{exe} serve --data {opts.data_dir} --host {opts.host} --http-port {opts.http_port}"
    if opts.ocpp_port is not None:
        command += f" --ocpp-port {opts.ocpp_port}"
    # a venv under /home must stay readable; elsewhere homes are hidden entirely
    home = "read-only" if exe.startswith(("/home/", "/root/")) else "yes"
    low_port = opts.http_port < 1024 or (opts.ocpp_port or 1024) < 1024
    caps = "CAP_NET_BIND_SERVICE" if low_port else ""
    lines = [
        "[Unit]",
        "Description=ampshare: load management for EV charging",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={opts.user}",
        f"Group={opts.user}",
        "SupplementaryGroups=dialout",
        f"ExecStart={command}",
        "Restart=on-failure",
        "RestartSec=5",
        "TimeoutStopSec=20",
        "StateDirectory=ampshare",
        "StateDirectoryMode=0750",
        f"WorkingDirectory={STATE_DIR}",
        "Environment=AMPSHARE_LOG=INFO",
        "Environment=PYTHONUNBUFFERED=1",
        f"ProtectHome={home}",
        f"CapabilityBoundingSet={caps}",
        *([f"AmbientCapabilities={caps}"] if caps else []),
        *(f"{key}={value}" for key, value in HARDENING),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--home-dir",
            str(STATE_DIR),
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        check=True,
    )
    try:
        grp.getgrnam("dialout")
    except KeyError:
        return
    subprocess.run(["usermod", "--append", "--groups", "dialout", name], check=True)


def install(opts: UnitOptions, unit_dir: Path, *, start: bool) -> list[str]:
    """Creates the user, writes the unit, enables it; returns what was done, for the operator."""
    if os.geteuid() != 0:
        raise PermissionError("install-service needs root (run it with sudo)")
    done = []
    _ensure_user(opts.user)
    done.append(f"user {opts.user}")
    unit_dir.mkdir(parents=True, exist_ok=True)
    path = unit_dir / UNIT_NAME
    atomic_write(path, unit_text(opts).encode(), 0o644)
    done.append(f"unit {path}")
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        done.append("systemctl not found: enable the unit by hand")
        return done
    subprocess.run([systemctl, "daemon-reload"], check=True)
    subprocess.run([systemctl, "enable", *(["--now"] if start else []), UNIT_NAME], check=True)
    done.append("enabled and started" if start else "enabled")
    return done

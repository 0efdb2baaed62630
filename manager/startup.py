"""How ampshare is started: its options, and what a first start sets up (admin password, demo).

Nothing here wires devices or the web; `manager.app` does that with these options.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manager.config import ROOT_CIRCUIT, CircuitConfig, Settings
from manager.configstore import ConfigStore
from manager.service import Service

ADMIN_ENV = "AMPSHARE_ADMIN_PASSWORD"


@dataclass
class Options:
    data_dir: Path
    host: str = "0.0.0.0"
    http_port: int = 8080
    ocpp_port: int | None = None
    demo: bool = False
    admin_password: str | None = None


def ensure_admin_password(service: Service, given: str | None) -> str | None:
    """Sets the admin password on first start; returns a generated one to show, if any."""
    if given:
        if not service.has_admin_password():
            service.set_admin_password_now(given)
        return None
    if service.has_admin_password():
        return None
    generated = secrets.token_urlsafe(9)
    service.set_admin_password_now(generated)
    return generated


def seed_demo(store: ConfigStore) -> None:
    """A 3x32 A house with PV, a grid meter and three wallboxes, one behind a 16 A board."""
    settings = Settings()
    settings.site.max_current_a = 32.0
    store.save_settings(settings)
    store.put_circuit(
        CircuitConfig(id="garage", name="Garage board", parent=ROOT_CIRCUIT, max_current_a=16.0)
    )
    common_evse = {"kind": "evse", "driver": "sim-evse", "enabled": True, "address": ""}
    devices: list[dict[str, Any]] = [
        {"id": "grid", "name": "Grid meter", "kind": "meter", "driver": "sim-meter",
         "role": "grid", "enabled": True, "address": "", "offline": False},
        {"id": "pv", "name": "PV inverter", "kind": "meter", "driver": "sim-meter",
         "role": "pv", "enabled": True, "address": "", "offline": False},
        {**common_evse, "id": "carport", "name": "Carport", "circuit": ROOT_CIRCUIT,
         "max_current_a": 32.0, "car": "3p32", "arrive_after_s": 0.0, "priority": 1},
        {**common_evse, "id": "garage-left", "name": "Garage left", "circuit": "garage",
         "max_current_a": 16.0, "car": "auto", "arrive_after_s": 3.0, "priority": 1},
        {**common_evse, "id": "garage-right", "name": "Garage right", "circuit": "garage",
         "max_current_a": 16.0, "phase_rotation": "L2L3L1", "car": "auto",
         "arrive_after_s": 12.0, "priority": 1},
    ]  # fmt: skip
    for device in devices:
        store.put_device(device)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ampshare"

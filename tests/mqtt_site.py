"""An in-process manager with N simulated wallboxes, for MQTT tests and the MQTT bench."""

from __future__ import annotations

from pathlib import Path

from manager.app import Manager, Options, build_manager
from manager.config import Settings
from manager.configstore import ConfigStore


def seed(data: Path, wallboxes: int, car: str = "3p16") -> None:
    store = ConfigStore(data)
    settings = Settings()
    settings.site.max_current_a = 400.0
    store.save_settings(settings)
    store.put_device(
        {"id": "grid", "name": "Grid", "kind": "meter", "driver": "sim-meter", "role": "grid",
         "enabled": True, "address": "", "offline": False}
    )  # fmt: skip
    for i in range(wallboxes):
        store.put_device(
            {"id": f"box{i}", "name": f"Box {i}", "kind": "evse", "driver": "sim-evse",
             "enabled": True, "address": "", "max_current_a": 16.0, "car": car,
             "arrive_after_s": 0.0}
        )  # fmt: skip
    store.close()


async def start(data: Path, wallboxes: int, ocpp_port: int, car: str = "3p16") -> Manager:
    """Built and started, but cycled by the caller (no scheduler): `await m.control.cycle()`.

    `car` is the simulated car at every box: "none" keeps the boxes' state still.
    """
    seed(data, wallboxes, car)
    manager = build_manager(Options(data_dir=data, host="127.0.0.1", ocpp_port=ocpp_port))
    await manager.start()
    return manager


async def use_broker(manager: Manager, port: int, base: str = "ampshare") -> None:
    await manager.service.update_settings(
        {"mqtt": {"host": "127.0.0.1", "port": port, "base_topic": base}}
    )

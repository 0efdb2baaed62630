"""Wiring of the operations parts: MQTT, metrics, the log view, backups.

Called by the composition root (manager/app.py) for every manager it builds. They are fed by
the control loop's cycles and the event log's listeners, and never feed back into a cycle.
The event log stores every event itself (manager/events.py); nothing here writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manager.control import ControlLoop
from manager.events import EventLog
from manager.logbuffer import LogBuffer
from manager.metrics import Metrics
from manager.mqtt import MqttBridge
from manager.service import Service
from manager.state import State

#: the live state as JSON with each reason worded (the web edge's, handed in by app.py)
Shown = Callable[[State], dict[str, Any]]


@dataclass
class Integrations:
    mqtt: MqttBridge
    metrics: Metrics
    logs: LogBuffer

    def start(self) -> None:
        self.mqtt.start()

    async def close(self) -> None:
        await self.mqtt.close()
        logging.getLogger().removeHandler(self.logs)


def wire(
    service: Service, control: ControlLoop, events: EventLog, data_dir: Path, shown: Shown
) -> Integrations:
    mqtt = MqttBridge(service, lambda: control.settings.mqtt, shown=shown)
    metrics = Metrics(
        lambda: control.snapshot().model_dump(mode="json"),
        service.charge_points,
        lambda: {"ampshare_mqtt_connected": float(mqtt.connected)},
    )

    def after_cycle(state: State) -> None:
        metrics.observe_cycle(control.last_cycle_s, control.last_allocation_s)
        mqtt.offer(state)

    control.on_cycle.append(after_cycle)
    events.listeners += [metrics.count_event, mqtt.on_event]
    logs = LogBuffer()
    logging.getLogger().addHandler(logs)
    service.ops.metrics, service.ops.logs, service.ops.data_dir = metrics, logs, data_dir
    return Integrations(mqtt, metrics, logs)

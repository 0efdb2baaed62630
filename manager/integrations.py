"""Wiring of the operations parts: MQTT, metrics, the log view, backups, event persistence.

Called by the composition root (manager/app.py) for every manager it builds. They are fed by
the control loop's cycles and the event log's listeners, and never feed back into a cycle.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manager.control import ControlLoop
from manager.events import EventLog
from manager.logbuffer import LogBuffer
from manager.metrics import Metrics
from manager.mqtt import MqttBridge
from manager.service import Service

#: events are written to disk at most this often (s), and on close
EVENTS_FLUSH_S = 10.0


@dataclass
class Integrations:
    mqtt: MqttBridge
    metrics: Metrics
    logs: LogBuffer
    events: EventLog

    def start(self) -> None:
        self.mqtt.start()

    async def close(self) -> None:
        await self.mqtt.close()
        logging.getLogger().removeHandler(self.logs)
        self.events.flush()


def wire(service: Service, control: ControlLoop, events: EventLog, data_dir: Path) -> Integrations:
    mqtt = MqttBridge(service, lambda: control.settings.mqtt)
    metrics = Metrics(
        control.snapshot,
        service.charge_points,
        lambda: {"ampshare_mqtt_connected": float(mqtt.connected)},
    )
    flushed = [time.monotonic()]

    def after_cycle(snapshot: dict[str, Any]) -> None:
        metrics.observe_cycle(control.last_cycle_s, control.last_allocation_s)
        mqtt.offer(snapshot)
        if time.monotonic() - flushed[0] >= EVENTS_FLUSH_S:
            flushed[0] = time.monotonic()
            events.flush()

    control.on_cycle.append(after_cycle)
    events.listeners += [metrics.count_event, mqtt.on_event]
    logs = LogBuffer()
    logging.getLogger().addHandler(logs)
    service.ops.metrics, service.ops.logs, service.ops.data_dir = metrics, logs, data_dir
    return Integrations(mqtt, metrics, logs, events)

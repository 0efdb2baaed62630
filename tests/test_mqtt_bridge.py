"""The MQTT bridge in process, speaking MQTT 3.1.1 (the process test speaks 5), and its
settings: an empty host turns it off, a new base topic reconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from mosquitto import Broker
from mqtt_site import start, use_broker
from ports import free_port

from manager.app import Manager
from manager.mqtt import PROTOCOLS


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Manager, Broker]]:
    broker = Broker(tmp_path)
    manager = await start(tmp_path / "data", 2, free_port())
    try:
        yield manager, broker
    finally:
        await manager.close()
        broker.stop()


async def _first(client: aiomqtt.Client, topic: str, manager: Manager, timeout_s: float = 10):
    """The next message on `topic`, cycling the manager meanwhile (bounded in time)."""
    async with asyncio.timeout(timeout_s):
        while True:
            await manager.control.cycle()
            try:
                async with asyncio.timeout(0.3):
                    async for msg in client.messages:
                        if str(msg.topic) == topic:
                            return msg
            except TimeoutError:
                continue


async def test_bridge_speaks_mqtt_311_and_follows_its_settings(
    site: tuple[Manager, Broker],
) -> None:
    manager, broker = site
    assert manager.mqtt is not None
    manager.mqtt.protocol = PROTOCOLS["3.1.1"]
    await use_broker(manager, broker.port, "one")
    v311 = PROTOCOLS["3.1.1"]
    async with aiomqtt.Client("127.0.0.1", broker.port, protocol=v311) as client:
        await client.subscribe("one/#")
        await client.subscribe("two/#")
        msg = await _first(client, "one/wallbox/box0/state", manager)
        assert json.loads(msg.payload)["id"] == "box0"
        assert manager.mqtt.connected

        await manager.service.update_settings({"mqtt": {"base_topic": "two"}})
        assert (await _first(client, "one/status", manager)).payload == b"offline"
        msg = await _first(client, "two/site/state", manager)
        assert "surplus_w" in json.loads(msg.payload)

        await manager.service.update_settings({"mqtt": {"host": ""}})
        assert (await _first(client, "two/status", manager)).payload == b"offline"
        for _ in range(5):
            await manager.control.cycle()
            await asyncio.sleep(0.05)
        assert not manager.mqtt.connected

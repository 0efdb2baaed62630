"""MQTT bridge: state out (retained, on change, at most once a second per topic), commands in.

The control loop hands each state over with `offer`, which only keeps a reference and wakes
the bridge's own task: a slow or lost broker never blocks or slows a control cycle. On every
(re)connect the bridge announces itself (`<base>/status` = online, LWT offline), publishes Home
Assistant discovery and the whole current state again, so missed updates are replaced by the
current retained state. Set topics go through the facade, with the API's validation; a refused
value is reported on the object's `.../error` topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import aiomqtt
from paho.mqtt.enums import MQTTProtocolVersion

from manager import discovery, mqtt_commands
from manager.config import InvalidInput, MqttSettings
from manager.service import NotFound, Service
from manager.state import State
from manager.version import VERSION

log = logging.getLogger("ampshare.mqtt")

PROTOCOLS = {"5": MQTTProtocolVersion.MQTTv5, "3.1.1": MQTTProtocolVersion.MQTTv311}
BACKOFF_MAX_S = 30.0


class _Reconfigure(Exception):
    """The MQTT settings changed: connect again with the new ones."""


def _payload(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()


def state_messages(base: str, snapshot: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    out = [(discovery.topics(base)["site"], _payload(snapshot.get("site") or {}))]
    for evse in snapshot.get("evses") or []:
        topic = f"{discovery.wallbox_topic(base, str(evse['id']))}/state"
        out.append((topic, _payload(evse)))
    for meter in snapshot.get("meters") or []:
        out.append((f"{discovery.meter_topic(base, str(meter['id']))}/state", _payload(meter)))
    return out


class MqttBridge:
    def __init__(
        self,
        service: Service,
        settings: Callable[[], MqttSettings],
        *,
        protocol: str = "5",
        min_interval_s: float = 1.0,
        client_id: str | None = None,
        shown: Callable[[State], Mapping[str, Any]] = lambda state: state.model_dump(mode="json"),
    ) -> None:
        self.service = service
        #: the state as published: JSON, each reason with its words (set by the wiring)
        self._shown = shown
        self._state: State | None = None
        self._view: tuple[State | None, Mapping[str, Any]] = (None, {})
        self._settings = settings
        self.protocol = PROTOCOLS[protocol]
        self.min_interval_s = min_interval_s
        self._client_id = client_id
        self._events: deque[dict[str, Any]] = deque(maxlen=500)
        self._wake = asyncio.Event()
        self._config: MqttSettings | None = None
        self._sent: dict[str, tuple[bytes, float]] = {}
        self._announced: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = False
        self.published = 0

    # -- fed by the control loop and the event log (never block) -----------------------
    def offer(self, state: State) -> None:
        self._state = state
        self._wake.set()

    @property
    def _latest(self) -> Mapping[str, Any]:
        """The newest state as published, turned into JSON once per state, in the bridge's
        task (not in the control cycle)."""
        if self._state is None:
            return {}
        if self._view[0] is not self._state:
            self._view = (self._state, self._shown(self._state))
        return self._view[1]

    def on_event(self, event: dict[str, Any]) -> None:
        if self.connected:
            self._events.append(event)
            self._wake.set()

    # -- life ----------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="mqtt")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=5)

    def _changed(self) -> bool:
        return self._settings() != self._config

    async def _supervise(self) -> None:
        backoff, reported = 1.0, False
        while True:
            self._config = cfg = self._settings()
            if not cfg.host:
                await self._wait(None)
                continue
            try:
                async with self._client(cfg) as client:
                    backoff, reported = 1.0, False
                    log.info("MQTT connected to %s:%d", cfg.host, cfg.port)
                    await self._session(client, cfg)
            except _Reconfigure:
                log.info("MQTT settings changed; connecting again")
                continue
            except aiomqtt.MqttError as exc:
                if not reported:  # once per outage, not once per attempt
                    self.service.events(
                        "mqtt",
                        f"MQTT broker {cfg.host}:{cfg.port}: {exc}",
                        params={"host": cfg.host, "port": cfg.port, "error": str(exc)},
                    )
                    reported = True
                log.debug("MQTT: %s; next attempt in %.0f s", exc, backoff)
            except Exception:  # a bug must not end MQTT for good: log it, retry
                log.exception("MQTT bridge failed; starting again in %.0f s", backoff)
            finally:
                self.connected = False
            await self._wait(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)

    async def _wait(self, seconds: float | None) -> None:
        """Sleeps `seconds` (None: for ever) or until the settings change."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            if self._changed():
                return
            self._wake.clear()
            left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            await self._woken(left)

    async def _woken(self, seconds: float) -> None:
        """Until an offer, an event or `seconds`. asyncio.timeout, not wait_for: on Python
        3.11 wait_for can swallow a cancel that meets a finished wait, and close would hang."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                await self._wake.wait()

    def _client(self, cfg: MqttSettings) -> aiomqtt.Client:
        status = discovery.topics(cfg.base_topic)["status"]
        ident = (
            self._client_id
            or "ampshare-"
            + hashlib.sha256(f"{socket.gethostname()}|{cfg.base_topic}".encode()).hexdigest()[:12]
        )
        return aiomqtt.Client(
            cfg.host,
            cfg.port,
            username=cfg.username or None,
            password=cfg.password or None,
            identifier=ident,
            protocol=self.protocol,
            will=aiomqtt.Will(status, b"offline", qos=1, retain=True),
            tls_context=ssl.create_default_context() if cfg.tls else None,
            timeout=10.0,
            keepalive=30,
        )

    # -- one connection ------------------------------------------------------------------
    async def _session(self, client: aiomqtt.Client, cfg: MqttSettings) -> None:
        base = cfg.base_topic
        self._sent.clear()
        self._announced.clear()
        self._events.clear()
        await client.subscribe(f"{base}/wallbox/+/set/+")
        await client.subscribe(f"{base}/site/set/+")
        await client.subscribe(discovery.STATUS_TOPIC)
        await client.publish(discovery.topics(base)["status"], b"online", qos=1, retain=True)
        self.connected = True
        tasks = [
            asyncio.create_task(self._receive(client, base)),
            asyncio.create_task(self._publish_loop(client, cfg)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raises what ended the session
        except (asyncio.CancelledError, _Reconfigure):
            # leaving on purpose: say so (the LWT covers only a lost connection)
            status = discovery.topics(base)["status"]
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(2):
                    await client.publish(status, b"offline", qos=1, retain=True)
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _publish_loop(self, client: aiomqtt.Client, cfg: MqttSettings) -> None:
        while True:
            self._wake.clear()  # first: an offer during the awaits below wakes the next round
            if self._changed():
                raise _Reconfigure
            await self._announce(client, cfg.base_topic, force=False)
            while self._events:
                event = self._events.popleft()
                await client.publish(discovery.topics(cfg.base_topic)["event"], _payload(event))
            due = await self._publish_state(client, cfg)
            await self._woken(due - time.monotonic())

    async def _publish_state(self, client: aiomqtt.Client, cfg: MqttSettings) -> float:
        """Publishes what changed; returns when the next held-back change is due."""
        now = time.monotonic()
        due = now + self.min_interval_s
        for topic, payload in state_messages(cfg.base_topic, self._latest):
            last = self._sent.get(topic)
            if last is not None and last[0] == payload:
                continue
            if last is not None and now - last[1] < self.min_interval_s:
                due = min(due, last[1] + self.min_interval_s)  # changed again within the second
                continue
            await client.publish(topic, payload, qos=0, retain=cfg.retain)
            self._sent[topic] = (payload, now)
            self.published += 1
        return due

    async def _announce(self, client: aiomqtt.Client, base: str, *, force: bool) -> None:
        """Discovery for objects not announced on this connection yet; removes gone ones."""
        if not self._latest:
            return
        wanted = dict(discovery.messages(base, VERSION, self._latest))
        if force:
            self._announced.clear()
        for topic in sorted(self._announced - wanted.keys()):
            await client.publish(topic, b"", qos=1, retain=True)  # HA: entity removed
            self._announced.discard(topic)
        for topic, payload in wanted.items():
            if topic not in self._announced:
                await client.publish(topic, payload.encode(), qos=1, retain=True)
                self._announced.add(topic)

    # -- commands ------------------------------------------------------------------------
    async def _receive(self, client: aiomqtt.Client, base: str) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            raw = message.payload
            text = (
                raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
            )
            if topic == discovery.STATUS_TOPIC:
                if text.strip() == "online":
                    log.info("Home Assistant started: publishing discovery again")
                    await self._announce(client, base, force=True)
                continue
            await self._command(client, base, topic, text)

    async def _command(self, client: aiomqtt.Client, base: str, topic: str, text: str) -> None:
        error_topic = mqtt_commands.error_topic(base, topic[len(base) + 1 :].split("/"))
        try:
            await mqtt_commands.apply(self.service, base, topic, text)
        except InvalidInput as exc:
            await self._refuse(client, error_topic, topic, text, exc.errors)
        except NotFound as exc:
            await self._refuse(
                client, error_topic, topic, text, [{"field": "id", "message": str(exc)}]
            )

    async def _refuse(
        self,
        client: aiomqtt.Client,
        error_topic: str,
        topic: str,
        text: str,
        errors: list[dict[str, str]],
    ) -> None:
        log.info("MQTT: refused %s=%r: %s", topic, text[:100], errors)
        body = {"topic": topic, "payload": text[:200], "errors": errors}
        await client.publish(error_topic, _payload(body), qos=1)

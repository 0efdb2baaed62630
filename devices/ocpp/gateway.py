"""One wallbox as an OCPP charge point towards an external billing backend.

A box without OCPP (Modbus, HTTP, simulated) is described from what the control loop reads:
its state becomes StatusNotification, a plugged-in car with an authorized tag a transaction
with the box's meter readings, and the backend's commands act on the box through the control
loop (a cap, stop, availability). An OCPP box on ampshare's own server is relayed instead
(gateway_relay.py): the backend sees what the box sent, signed meter data unaltered.
Transaction messages go through the durable queue, in order, so an outage or a restart of
ampshare loses no bill.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.ocpp import gateway_v16, gateway_v201
from devices.ocpp.gateway_commands import Commands, in_backend_version
from devices.ocpp.gateway_config import (
    CURRENT,
    ENERGY,
    POWER,
    READ_ONLY_KEYS,
    VOLTAGE,
    BackendConfig,
    GatewaySettings,
)
from devices.ocpp.gateway_link import BackendError, Link, Offline
from devices.ocpp.gateway_profiles import ProfileStore, composite, limit_at, parse_time
from devices.ocpp.gateway_queue import Entry, GatewayQueue
from devices.ocpp.gateway_relay import Relay
from manager.model import BackendCap, BoxObservation, ChargeStatus, EventSink

log = logging.getLogger(__name__)

DIALECTS = {"ocpp1.6": gateway_v16, "ocpp2.0.1": gateway_v201}
AUTH_TIMEOUT_S = 10.0
#: a tag read while the backend is (re)connecting waits this long for it before the fallback
AUTH_WAIT_S = 5.0
#: a meter value due within this time is sent in this control cycle, not the next one (s)
METER_SLACK_S = 0.5
PLUGGED = (ChargeStatus.CONNECTED, ChargeStatus.CHARGING)


class Gateway:
    def __init__(
        self,
        device_id: str,
        name: str,
        settings: GatewaySettings,
        *,
        data_dir: Path,
        events: EventSink,
        local_user: Callable[[str], bool],
        relay: Relay | None = None,
        max_current_a: float = 16.0,
        phases: int = 3,
    ) -> None:
        self.id, self.name, self.settings = device_id, name, settings
        self.dialect = DIALECTS[settings.protocol]
        self.msgs = self.dialect.Messages
        self.events = events
        self.local_user = local_user
        self.relay = relay
        self.max_current_a, self.phases = max_current_a, phases
        base = Path(data_dir) / "gateway" / device_id
        self.key_dir = base
        self.queue = GatewayQueue.open(base / "queue.jsonl")
        self.config = BackendConfig.load(base / "backend.json")
        self.store = ProfileStore(self.config, self.msgs.version)
        self.obs: BoxObservation | None = None
        self.tx: dict[str, Any] | None = None
        self.auth: str | None = None  # pending | accepted | refused | unbilled
        self.auth_tag: str | None = None
        self.remote_tag: str | None = None
        self.remote_stopped = False
        self.booted = False
        self.word: tuple[str, str | None] = ("Unavailable", None)
        self.sent_word: tuple[str, str | None] | None = None
        self.next_meter = 0.0
        self.wake = asyncio.Event()
        self.ready = asyncio.Event()  # booted at the backend
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False
        self.link = Link(
            f"{device_id} gateway",
            settings.endpoint,
            self.dialect.SUBPROTOCOL,
            headers=self._headers(),
            ssl_ctx=settings.ssl_context(base),
            router=lambda ws: Commands(self, ws),
            on_open=self._on_open,
            on_close=self._on_close,
            events=self._link_event,
            format_error=self.dialect.FORMAT_ERROR,
            actions=self.dialect.ACTIONS,
        )

    def _headers(self) -> dict[str, str]:
        auth = self.settings.authorization()
        return {"Authorization": auth} if auth else {}

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, resume: bool = False) -> None:
        """Recover from the journal, then connect.

        After a restart of ampshare a session that was open ends with PowerLoss or Reboot, as a
        rebooted charge point reports it; after a mere settings change (`resume`) it goes on.
        """
        state = self.queue.state
        if state.get("tx") and resume:
            self.tx = dict(state["tx"])
            self.auth, self.auth_tag = "accepted", self.tx.get("tag")
            self.next_meter = time.time() + self.config.interval_s("MeterValueSampleInterval")
        elif state.get("tx") and not self.relaying:
            self.tx = dict(state["tx"])
            self._stop_tx("Reboot" if state.get("clean") else "PowerLoss", state.get("ts"))
        self.queue.save_state({"tx": self.tx, "clean": False}, sync=True)
        self.link.start()
        self.spawn(self._sender())

    async def close(self) -> None:
        self.closed = True
        await self.link.close()
        for task in list(self._tasks):
            task.cancel()
        self._save(clean=True)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _link_event(self, kind: str, endpoint: str) -> None:
        word = "connected to" if kind == "gateway_connected" else "disconnected from"
        self.events(kind, f"{self.name}: gateway {word} {endpoint}", device=self.id)

    @property
    def relaying(self) -> bool:
        return self.relay is not None and self.relay.protocol() == self.msgs.version

    def status(self) -> dict[str, Any]:
        st = self.link.state
        cap = self.cap()
        return {
            "connected": st.connected and self.booted,
            "since": st.since if st.connected else None,
            "error": st.error,
            "detail": st.detail,
            "queued": len(self.queue),
            "limit_a": None if cap is None else round(cap.limit_a, 1),
            "insecure": self.settings.secure and not self.settings.verify_tls,
            "protocol": self.settings.protocol,
        }

    # ------------------------------------------------------------------ the box, each cycle

    def observe(self, obs: BoxObservation) -> None:
        if self.closed:
            return
        self.obs = obs
        now = time.time()
        if self.relaying:
            self.word = self.relay.status_word(obs) if self.relay else self.word
        else:
            self._follow_box(obs, now)
            self.word = self._status_word(obs)
        if self.word != self.sent_word and self.booted:
            self.spawn(self._send_status())

    def _follow_box(self, obs: BoxObservation, now: float) -> None:
        """Transactions follow the box: plug-in authorizes and starts, unplugging stops."""
        r = obs.reading
        if obs.online and r is not None and r.status is ChargeStatus.NO_CAR:
            self._unplugged()
            return
        if not obs.enabled and self.tx is not None:
            self._stop_tx("Local")
        if not (obs.online and obs.enabled) or r is None or r.status not in PLUGGED:
            return
        if self.tx is None and not self.remote_stopped:
            self._plugged(r, now)
        if self.tx is not None:
            self.tx["last_wh"] = self._register(r)
            if now >= self.next_meter - METER_SLACK_S:
                self._queue_meter(now)

    def _unplugged(self) -> None:
        if self.tx is not None:
            self._stop_tx("EVDisconnected")
        self.auth = self.auth_tag = None
        self.remote_stopped = False

    def _plugged(self, r: Any, now: float) -> None:
        fresh = r.user and r.user != self.auth_tag and self.remote_tag is None
        if fresh and self.auth not in (None, "pending"):
            self.auth = None  # a card (or a start from the dashboard) after the plug: ask again
        if self.auth is None:
            tag = self.remote_tag or r.user
            if tag is None and self.obs is not None and self.obs.awaits_tag:
                return  # the box's reader decides: wait for the card
            tag = tag or self.settings.client_id[:20]
            self.auth, self.auth_tag = "pending", tag
            self.spawn(self._authorize(tag, remote=self.remote_tag is not None))
        elif self.auth == "accepted":
            self._start_tx(self.auth_tag or "", r, now)

    def _status_word(self, obs: BoxObservation) -> tuple[str, str | None]:
        r = obs.reading
        if not obs.enabled or not self.config.operative:
            return "Unavailable", None
        if not obs.online or r is None:
            return "Faulted", "box not answering"
        if r.status is ChargeStatus.ERROR:
            return "Faulted", r.detail
        if r.status is ChargeStatus.NO_CAR:
            return "Available", None
        if self.auth == "unbilled":
            return "Unavailable", "local session"
        if self.tx is None:
            return ("Finishing" if self.remote_stopped else "Preparing"), None
        if r.status is ChargeStatus.CHARGING:
            return "Charging", None
        return ("SuspendedEVSE" if obs.offered_a <= 0 else "SuspendedEV"), None

    @staticmethod
    def _register(r: Any) -> float:  # the meter's register, else the session's count
        return float(r.energy_wh if r.energy_wh is not None else r.session_wh)

    # ------------------------------------------------------------------ authorization

    async def _authorize(self, tag: str, *, remote: bool) -> None:
        """Backend first; the tag cache when it is away; then this box's fallback setting."""
        if remote or self.config.cached(tag):
            self.auth = "accepted"
            return
        why = "unreachable"
        if not self.booted:
            try:
                await asyncio.wait_for(self.ready.wait(), AUTH_WAIT_S)
            except TimeoutError:
                pass
        try:
            action, payload = self.msgs.authorize(tag)
            reply = await self.link.request(action, payload, AUTH_TIMEOUT_S)
            status, expiry = self.msgs.auth_result(reply)
            if status == "Accepted":
                self.config.remember_tag(tag, parse_time(expiry))
                self.auth = "accepted"
                return
            why = status
            self.config.forget_tag(tag)
            self.events(
                "gateway_tag_rejected",
                f"{self.name}: billing backend refused tag {tag} ({status})",
                device=self.id,
            )
        except (Offline, BackendError, TimeoutError) as exc:
            log.info("%s: tag %s not checked by the backend: %s", self.id, tag, exc)
        self.auth = self._fallback(tag, why)

    def _fallback(self, tag: str, why: str) -> str:
        mode = self.settings.auth_fallback
        if mode == "anyone":
            return "accepted"
        if mode == "local" and self.local_user(tag):
            log.info("%s: tag %s is a local user: charging, not billed (%s)", self.id, tag, why)
            return "unbilled"
        return "refused"

    # ------------------------------------------------------------------ transactions

    def _start_tx(self, tag: str, r: Any, now: float) -> None:
        key = f"t{int(now * 1000)}"
        meter = self._register(r)
        self.tx = {"key": key, "tag": tag, "start": now, "meter_start": meter, "last_wh": meter}
        self.tx["seq"] = 0
        self._enqueue(self.msgs.start(1, tag, meter, now), key)
        self.next_meter = now + self.config.interval_s("MeterValueSampleInterval")
        self.remote_tag = None
        self._save()

    def _stop_tx(self, reason: str, ts: float | None = None) -> None:
        tx = self.tx
        if tx is None:
            return
        self._enqueue(
            self.msgs.stop(tx["tag"], tx["last_wh"], ts or time.time(), reason), tx["key"]
        )
        self.tx = None
        self.store.clear({"purpose": "TxProfile"})  # a TxProfile ends with its transaction
        self._save()

    def _queue_meter(self, now: float) -> None:
        if self.tx is None or self.obs is None or self.obs.reading is None:
            return
        sampled = self._samples(self.obs.reading)
        if sampled:
            self._enqueue(self.msgs.meter(1, sampled, now), self.tx["key"])
        interval = self.config.interval_s("MeterValueSampleInterval")
        # on the planned grid, so a sample interval of N s does not drift to N + 1 control cycles
        step = interval if interval > 0 else 3600.0
        planned = self.next_meter + step
        self.next_meter = planned if planned > now else now + step
        self._save()

    def _samples(self, r: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for m in self.config.measurands():
            if m == ENERGY:
                out.append(self.msgs.sample(m, self._register(r), "Wh", None))
            elif m == POWER:
                out.append(self.msgs.sample(m, float(r.power_w), "W", None))
            elif m == CURRENT:
                out += [
                    self.msgs.sample(m, float(c), "A", f"L{i + 1}")
                    for i, c in enumerate(r.current_a[: self.phases])
                ]
            elif m == VOLTAGE:
                out += [
                    self.msgs.sample(m, float(v), "V", f"L{i + 1}-N")
                    for i, v in enumerate(r.voltage_v[: self.phases])
                    if v is not None
                ]
        return out

    def _enqueue(self, message: tuple[str, dict[str, Any]], tx: str | None) -> Entry:
        action, payload = message
        if self.tx is not None and self.msgs.version == "2.0.1" and tx == self.tx.get("key"):
            payload = self.msgs.stamp(payload, self.tx, offline=not self.link.state.connected)
        entry = self.queue.add(action, payload, tx)
        self.wake.set()
        return entry

    def _save(self, *, clean: bool = False) -> None:
        state = {"tx": self.tx, "clean": clean or self.closed, "ts": time.time()}
        self.queue.save_state(state, sync=clean or self.tx is None)

    # ------------------------------------------------------------------ sending

    async def _sender(self) -> None:
        """Delivers the queue in order whenever connected and booted."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.booted and (entry := self.queue.first()) is not None:
                if not await self._deliver(entry):
                    break

    async def _deliver(self, entry: Entry) -> bool:
        payload = self.msgs.outgoing(entry, self.queue.tx_ids)
        if payload is None:
            log.warning("%s: %s of an unknown transaction dropped", self.id, entry.action)
            self.queue.done(entry)
            return True
        try:
            reply = await self.link.request(entry.action, payload)
        except (Offline, TimeoutError):
            return False
        except BackendError as exc:
            entry.attempts += 1
            attempts = int(self.config.keys.get("TransactionMessageAttempts", "5") or 5)
            log.warning("%s: %s (attempt %d of %d)", self.id, exc, entry.attempts, attempts)
            if entry.attempts < attempts:
                await asyncio.sleep(
                    min(30.0, self.config.interval_s("TransactionMessageRetryInterval"))
                )
                return True
            reply = {}
        self.msgs.answered(entry, reply, self.queue)
        self.queue.done(entry)
        if entry.tx is not None and entry.action in self.msgs.END_ACTIONS:
            self.queue.forget_tx(entry.tx)
        return True

    async def send_now(self, message: tuple[str, dict[str, Any]]) -> dict[str, Any] | None:
        """A message that is not queued (boot, status, heartbeat): sent if connected."""
        try:
            return await self.link.request(*message)
        except (Offline, BackendError, TimeoutError) as exc:
            log.info("%s: %s not sent: %s", self.id, message[0], exc)
            return None

    async def _send_status(self) -> None:
        word = self.word
        if self.obs is None:  # nothing seen of the box yet
            return
        self.sent_word = word
        if self.relaying and self.relay is not None:
            message = self.relay.status_message(word, self.msgs)
        else:
            message = self.msgs.status(1, word[0], word[1], time.time())
        if message is not None and await self.send_now(message) is None:
            self.sent_word = None

    async def _on_open(self) -> None:
        """After every connect: boot until accepted, status, heartbeats, then the queue."""
        while True:
            ident = self.relay.ident() if self.relaying and self.relay else self._ident()
            reply = await self.send_now(self.msgs.boot(ident))
            interval = float((reply or {}).get("interval") or 60)
            if reply is not None and reply.get("status") == "Accepted":
                break
            await asyncio.sleep(max(5.0, min(interval, 300.0)))
        if interval > 0:
            self.config.keys["HeartbeatInterval"] = str(int(interval))
        self.booted = True
        self.ready.set()
        self.sent_word = None
        await self._send_status()
        self.wake.set()
        while True:
            await asyncio.sleep(max(10.0, self.config.interval_s("HeartbeatInterval")))
            await self.send_now(("Heartbeat", {}))

    def _on_close(self) -> None:
        self.booted = False
        self.ready.clear()
        self.sent_word = None

    def _ident(self) -> dict[str, Any]:
        return {"vendor": "ampshare", "model": "ampshare gateway", "serial": self.id}

    # ------------------------------------------------------------------ backend commands

    def cap(self) -> BackendCap | None:
        if not self.config.operative or self.remote_stopped or self.auth in ("pending", "refused"):
            return BackendCap(0.0, stopped=True)
        start = self.tx["start"] if self.tx else None
        limit = limit_at(
            self.store.profiles, time.time(), self._backend_tx_id(), start, self.phases
        )
        return None if limit is None else BackendCap(limit)

    def set_profile(self, connector: int, raw: dict[str, Any], *, remote: bool = False) -> str:
        """Install a profile; a TxProfile needs a transaction, except with a remote start."""
        status = self.store.install(connector, raw, has_tx=self.tx is not None or remote)
        log.info("%s: backend's charging profile: %s", self.id, status)
        return status

    def clear_profiles(self, criteria: dict[str, Any]) -> str:
        return self.store.clear(criteria)

    def composite(self, duration: int) -> tuple[float, list[dict[str, Any]]]:
        now = float(int(time.time()))
        start = self.tx["start"] if self.tx else None
        tx_id = self._backend_tx_id()
        return now, composite(
            self.store.profiles, now, duration, tx_id, start, self.phases, self.max_current_a
        )

    def _backend_tx_id(self) -> Any:
        """The id the backend knows the running transaction by (1.6: once it answered)."""
        if self.tx is None:
            return None
        if self.msgs.version == "2.0.1":
            return self.tx["key"]
        return self.queue.tx_ids.get(self.tx["key"])

    def change_key(self, key: str, value: str) -> str:
        status = self.config.change(key, value)
        if status == "Accepted" and key == "MeterValueSampleInterval" and self.tx is not None:
            interval = self.config.interval_s(key)
            self.next_meter = time.time() + (interval if interval > 0 else 3600.0)
        return status

    def get_keys(self, keys: list[str]) -> tuple[list[tuple[str, str, bool]], list[str]]:
        have = self.config.keys
        wanted = keys or list(have)
        known = [(k, have[k], k in READ_ONLY_KEYS) for k in wanted if k in have]
        return known, [k for k in wanted if k not in have]

    def trigger(self, message: str) -> None:
        self.spawn(self._triggered(message))

    async def _triggered(self, message: str) -> None:
        await asyncio.sleep(0.05)  # the answer to TriggerMessage goes first
        if message == "BootNotification":
            ident = self.relay.ident() if self.relaying and self.relay else self._ident()
            await self.send_now(self.msgs.boot(ident))
        elif message == "StatusNotification":
            await self._send_status()
        elif message == "Heartbeat":
            await self.send_now(("Heartbeat", {}))
        elif message == "MeterValues":
            sampled = self._samples(self.obs.reading) if self.obs and self.obs.reading else []
            if sampled:
                await self.send_now(self.msgs.plain_meter(sampled, time.time()))
        elif message.endswith("StatusNotification"):  # firmware, diagnostics, log: nothing runs
            await self.send_now(self.msgs.idle_status(message))

    def set_operative(self, operative: bool) -> str:
        self.config.operative = operative
        self.config.save()
        if not operative and self.tx is not None:
            self._stop_tx("Other")
            self.remote_stopped = True
        return "Accepted"

    def reset(self, reason: str) -> None:
        if self.tx is not None and not self.relaying:
            self._stop_tx(reason)
        self.auth = None
        self.spawn(self._reconnect_soon())

    async def _reconnect_soon(self) -> None:
        await asyncio.sleep(0.3)  # the answer to Reset goes out first
        await self.link.reconnect()

    def clear_cache(self) -> None:
        self.config.tags.clear()
        self.config.save()

    async def remote_start(self, tag: str, profile: dict[str, Any] | None) -> str:
        if self.relaying and self.relay is not None:
            return await self.relay.remote_start(tag, profile)
        obs = self.obs
        if obs is None or not obs.online or not obs.enabled or not self.config.operative:
            return "Rejected"
        if self.tx is not None:
            return "Rejected"
        if profile is not None:
            self.set_profile(1, profile, remote=True)
        self.remote_tag, self.auth, self.remote_stopped = tag, None, False
        return "Accepted"

    async def remote_stop(self, backend_tx: Any) -> str:
        if self.relaying and self.relay is not None:
            return await self.relay.remote_stop(backend_tx, self.queue.tx_ids)
        if self.tx is None:
            return "Rejected"
        if self._backend_tx_id() != backend_tx:
            return "Rejected"
        self._stop_tx("Remote")
        self.remote_stopped = True
        return "Accepted"

    async def relay_command(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """UnlockConnector and DataTransfer reach an OCPP box; other boxes cannot do them."""
        if self.relay is None:
            return None
        return await self.relay.command(action, payload)

    # ------------------------------------------------------------------ OCPP box (relay)

    def on_box_call(self, action: str, payload: dict[str, Any], local_tx: Any) -> None:
        if not self.relaying or self.relay is None:
            return
        for message, tx, durable in self.relay.queued(action, payload, local_tx):
            if durable:
                self.queue.add(message[0], message[1], tx)
                self.wake.set()
            elif self.booted:
                self.spawn(self.send_now(message))
        if action == "StatusNotification" and self.booted:
            self.word = self.relay.status_word(self.obs)
            self.spawn(self._send_status())
        elif action == "BootNotification" and self.booted:
            self.spawn(self.send_now(self.msgs.boot(self.relay.ident())))

    async def box_authorize(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A relayed box's Authorize: the backend's answer; when it refuses or is away, the
        cache and this box's fallback (a local user charges unbilled: not relayed)."""
        tag = str(payload.get("idTag") or (payload.get("idToken") or {}).get("idToken") or "")
        payload = in_backend_version(self.msgs, tag, payload)
        if not self.booted and self.config.cached(tag):
            return {"status": "Accepted"}
        try:
            reply = await self.link.request("Authorize", payload, AUTH_TIMEOUT_S)
            status, expiry = self.msgs.auth_result(reply)
            info = reply.get("idTagInfo") or reply.get("idTokenInfo") or {"status": status}
            if status == "Accepted":
                self.config.remember_tag(tag, parse_time(expiry))
                return dict(info)
            self.config.forget_tag(tag)
            self.events(
                "gateway_tag_rejected",
                f"{self.name}: billing backend refused tag {tag} ({status})",
                device=self.id,
            )
        except (Offline, BackendError, TimeoutError) as exc:
            log.info("%s: tag %s not checked by the backend: %s", self.id, tag, exc)
        decision = self._fallback(tag, "refused or unreachable")
        if decision == "unbilled" and self.relay is not None:
            self.relay.unbilled_tags.add(tag)
        return {"status": "Invalid" if decision == "refused" else "Accepted"}

    async def box_data_transfer(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        if not self.booted:
            return None
        try:
            return await self.link.request("DataTransfer", payload)
        except (Offline, BackendError, TimeoutError):
            return None

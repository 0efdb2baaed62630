"""One live connection of a charge point: frame loop, fast path, requests to the box.

Why not the `ocpp` library's own loop: it handles one message at a time, validates every message
in a thread pool, and deadlocks when a handler sends a request (measured in
tests/bench/bench_ocpp_design.py; see docs/ocpp.md, "Design"). Here the frame loop answers the
hot messages (Heartbeat, StatusNotification, MeterValues) itself with cheap, lenient checks,
checks every other request against the library's JSON schemas and hands it to its `@handles`
method (devices/ocpp/routing.py), and matches replies to our own requests without blocking the
loop. Follow-up work (reading capabilities, default-deny, meter setup) runs in a task after the
reply has gone out.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from devices.ocpp.authority import Authority
from devices.ocpp.box_setup import BoxSetup
from devices.ocpp.errors import BadMessage, CallTimeout, NotConnected, OcppCallError
from devices.ocpp.meter import MeterFormatError, MeterSample, parse_meter_values
from devices.ocpp.profiles import clear_profile_request, set_profile_request, status_reason
from devices.ocpp.routing import check, compact, handles, route_table
from devices.ocpp.settings import OcppSettings
from devices.ocpp.state import (
    ChargePointRecord,
    ConnectorLimit,
    ConnectorState,
)
from manager.model import OcppHooks

log = logging.getLogger(__name__)

#: warnings logged per connection about bad messages before they go to debug level
BAD_MESSAGE_LOG_LIMIT = 20
_UID = re.compile(r'^\s*\[\s*[234]\s*,\s*"([^"\\]{1,64})"')


@dataclass(frozen=True)
class ProfileStyle:
    """How a box wants its charging profiles (per-device quirk options)."""

    stack_level: int | None = None  # None: the highest the box allows
    relative: bool = False
    watts: bool = False
    max_profile: bool = False  # limit with ChargePointMaxProfile only
    voltage_v: float = 230.0


class Host(Protocol):
    """What a connection needs from the server that owns it."""

    settings: OcppSettings
    hooks: OcppHooks

    def profile_style(self, cb_id: str) -> ProfileStyle: ...

    def is_known(self, cb_id: str) -> bool: ...

    def is_released(self, cb_id: str) -> bool: ...

    async def resend_setpoints(self, conn: OcppConnection) -> None: ...

    def box_event(self, kind: str, message: str, cb_id: str) -> None: ...

    def connection_ready(self, conn: OcppConnection) -> None: ...

    def observe_call(self, conn: OcppConnection, action: str, payload: dict[str, Any]) -> None: ...

    async def relay_data_transfer(
        self, cb_id: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None: ...

    async def relay_authorize(
        self, cb_id: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None: ...


class ComplaintLog:
    """Warnings about one connection's bad messages: the first `limit` are logged, then one line
    says so and the rest go to debug. A box sending garbage all day cannot fill the disk."""

    def __init__(self, name: str, limit: int = BAD_MESSAGE_LOG_LIMIT) -> None:
        self.name = name
        self.left = limit

    def warning(self, logger: logging.Logger, msg: str, *args: object) -> None:
        if self.left <= 0:
            logger.debug(msg, *args)
            return
        self.left -= 1
        logger.warning(msg, *args)
        if self.left == 0:
            logger.warning("%s: further bad messages are logged at debug level only", self.name)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def boot_accepted(heartbeat_s: int) -> dict[str, Any]:
    return {"currentTime": now_iso(), "interval": heartbeat_s, "status": "Accepted"}


_Taken = tuple[int | None, float | None, float | None, list[dict[str, Any]]]


def _take_session(state: ConnectorState) -> _Taken:
    """What closing a session needs; the connector is free again at once."""
    taken = (state.session_id, state.energy_wh, state.meter_start_wh, list(state.signed))
    state.end_transaction()
    return taken


def _is_rpc(msg: Any) -> bool:
    """[2|3|4, "id", ...]: the shape every OCPP-J frame has."""
    return (
        isinstance(msg, list) and len(msg) >= 3 and msg[0] in (2, 3, 4) and isinstance(msg[1], str)
    )


def _dumps(msg: list[Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False)


__all__ = ["BadMessage", "CallTimeout", "NotConnected", "OcppCallError", "OcppConnection"]


class OcppConnection(Authority, BoxSetup):
    """Base of the 1.6 and 2.0.1 connections; subclasses add the version's messages."""

    version: ClassVar[str]
    #: CALLERROR codes that differ between the versions
    FORMAT_ERROR: ClassVar[str]
    RPC_ERROR: ClassVar[str]
    TYPE_ERROR: ClassVar[str] = "TypeConstraintViolation"
    #: how long to wait for a StatusNotification after connecting before triggering one
    STATUS_GRACE_S: ClassVar[float] = 2.0
    #: action -> (handler method name, schema-checked), from the `@handles` marks
    ROUTES: ClassVar[dict[str, tuple[str, bool]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.ROUTES = route_table(cls)

    def __init__(self, host: Host, ws: ServerConnection, record: ChargePointRecord) -> None:
        self.host = host
        self.ws = ws
        self.record = record
        self.id = record.id
        self.connected_at = time.time()
        self.ready = False
        self.closed = False
        self.status_seen = asyncio.Event()
        self._pending: dict[str, asyncio.Future[list[Any]]] = {}
        self._call_lock = asyncio.Lock()
        self._seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._followup: asyncio.Task[None] | None = None
        self._after: list[Callable[[], None]] = []
        #: result of the last default-deny attempt on this connection (None: not tried)
        self.deny_status: str | None = None
        self._refused: set[tuple[str, str]] = set()
        self._stop_next: int | str | None = None
        self.complaints = ComplaintLog(self.id)
        self._fast: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "Heartbeat": self._on_heartbeat,
            "StatusNotification": self._on_status,
            "MeterValues": self._on_meter_values,
        }

    # ------------------------------------------------------------------ subclass hooks

    def _known_actions(self) -> frozenset[str]:
        raise NotImplementedError

    async def set_limit(
        self,
        connector: int,
        limit: float,
        unit: str,
        phases: int | None,
        *,
        profile_id: int,
        purpose: str,
        stack_level: int,
        relative: bool,
        transaction_id: int | str | None = None,
    ) -> tuple[str, str | None]:
        """Install (replace) one of our profiles; returns the box's status and reason."""
        payload = set_profile_request(
            self.version,
            connector,
            limit,
            unit,
            phases,
            profile_id=profile_id,
            purpose=purpose,
            stack_level=stack_level,
            relative=relative,
            transaction_id=transaction_id,
        )
        reply = await self.request("SetChargingProfile", payload)
        status = str(reply.get("status"))
        if status == "Accepted":
            self.record.installed.add(profile_id)
        return status, status_reason(reply)

    async def clear_profile(self, profile_id: int) -> str:
        """ClearChargingProfile by id; returns the box's status (Accepted / Unknown)."""
        reply = await self.request(
            "ClearChargingProfile", clear_profile_request(self.version, profile_id)
        )
        status = str(reply.get("status"))
        if status == "Accepted":
            self.record.installed.discard(profile_id)
        return status

    # ------------------------------------------------------------------ frame loop

    async def run(self) -> None:
        try:
            async for raw in self.ws:
                await self._on_frame(raw)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(NotConnected("connection closed"))
            for task in list(self._tasks):
                task.cancel()

    async def _on_frame(self, raw: str | bytes) -> None:
        self.record.touch()
        self.record.messages += 1
        if isinstance(raw, bytes):
            await self._send_error("-1", self.FORMAT_ERROR, "OCPP-J uses text frames")
            return
        if len(raw) > self.host.settings.max_frame_bytes:
            match = _UID.match(raw[:200])
            self.complaints.warning(log, "%s: refused a frame of %d bytes", self.id, len(raw))
            await self._send_error(
                match.group(1) if match else "-1",
                self.FORMAT_ERROR,
                f"message larger than {self.host.settings.max_frame_bytes} bytes",
            )
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            self.complaints.warning(log, "%s: frame is not JSON: %.80r", self.id, raw)
            await self._send_error("-1", self.FORMAT_ERROR, "message is not valid JSON")
            return
        if not _is_rpc(msg):
            await self._refuse_frame(msg)
            return
        if msg[0] == 2:
            await self._on_call(msg)
        else:
            fut = self._pending.get(msg[1])
            if fut is not None and not fut.done():
                fut.set_result(msg)
            else:
                log.info("%s: reply to unknown or expired request %s ignored", self.id, msg[1])

    async def _refuse_frame(self, msg: Any) -> None:
        uid = msg[1] if isinstance(msg, list) and len(msg) > 1 else "-1"
        code = self.RPC_ERROR
        if isinstance(msg, list) and msg and isinstance(msg[0], int) and msg[0] not in (2, 3, 4):
            code = self._message_type_error()
        await self._send_error(
            uid if isinstance(uid, str) else "-1", code, "not an OCPP-J RPC frame"
        )

    def _message_type_error(self) -> str:
        return self.RPC_ERROR

    async def _on_call(self, msg: list[Any]) -> None:
        uid = msg[1]
        if len(msg) != 4 or not isinstance(msg[2], str) or not isinstance(msg[3], dict):
            await self._send_error(uid, self.RPC_ERROR, "a CALL is [2, id, action, {payload}]")
            return
        action: str = msg[2]
        fast = self._fast.get(action)
        if fast is None and action not in self.ROUTES:
            known = action in self._known_actions()
            code = "NotSupported" if known else "NotImplemented"
            text = f"{action} is not supported" if known else f"unknown action {action}"
            log.info("%s: %s", self.id, text)
            await self._send_error(uid, code, text)
            return
        try:
            await self._dispatch(uid, action, msg[3], fast)
        except BadMessage as exc:
            self.complaints.warning(log, "%s: refused %s: %s", self.id, action, exc.description)
            await self._send_error(uid, exc.code, exc.description)
        except ConnectorLimit as exc:
            self.complaints.warning(log, "%s: refused %s: %s", self.id, action, exc)
            await self._send_error(uid, "PropertyConstraintViolation", str(exc))
        except ConnectionClosed:
            raise
        except Exception as exc:  # a bug must cost one message, never the connection
            self.complaints.warning(log, "%s: %s failed: %r", self.id, action, exc)
            await self._send_error(uid, "InternalError", "could not process the message")

    async def _dispatch(
        self,
        uid: str,
        action: str,
        payload: dict[str, Any],
        fast: Callable[[dict[str, Any]], dict[str, Any]] | None,
    ) -> None:
        if fast is not None:
            result = fast(payload)
            await self.ws.send(_dumps([3, uid, result]))
            self.host.observe_call(self, action, payload)
            return
        name, strict = self.ROUTES[action]
        if strict:
            check(self.version, action, payload)
        self._after = []
        answer = getattr(self, name)(payload)
        result = compact(await answer if inspect.isawaitable(answer) else answer)
        if strict:
            check(self.version, action, result, reply=True)
        after, self._after = self._after, []
        await self.ws.send(_dumps([3, uid, result]))
        for step in after:
            step()
        if action != "DataTransfer":  # answered: pass it on
            self.host.observe_call(self, action, payload)
        if action == "BootNotification" and self._followup is not None and self._followup.done():
            self.start_setup()  # the box rebooted: read it and install everything again

    def after_reply(self, step: Callable[[], None]) -> None:
        """Run `step` once the reply to the request being handled has gone out (a request
        back to the box sent from inside a handler would come before its reply)."""
        self._after.append(step)

    def start_setup(self) -> None:
        """Set the box up now: capabilities, default-deny, setpoints, meter configuration.

        Runs at once after the WebSocket handshake: the protocol version is known from the
        subprotocol, so nothing waits for the box to speak first.
        """
        if self._followup is not None and not self._followup.done():
            self._followup.cancel()
        self._followup = self.spawn(self._run_followup())

    async def _run_followup(self) -> None:
        try:
            await self.after_connect()
        except (NotConnected, asyncio.CancelledError):
            return
        except Exception:
            log.exception("%s: setting up the charge point failed", self.id)
        finally:
            self.ready = True
        if not self.closed:
            self.host.connection_ready(self)

    async def _send_error(self, uid: str, code: str, description: str) -> None:
        try:
            await self.ws.send(_dumps([4, uid, code, description, {}]))
        except ConnectionClosed:
            pass

    def _on_heartbeat(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": now_iso()}

    # ------------------------------------------------------------------ shared by both versions

    @handles("DataTransfer")
    async def on_data_transfer(self, p: dict[str, Any]) -> dict[str, Any]:
        return await self.data_transfer(p)

    @handles("FirmwareStatusNotification")
    def on_firmware(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.log_status("firmware", p)

    @handles("LogStatusNotification")
    def on_log_status(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.log_status("logs", p)

    @handles("SecurityEventNotification")
    def on_security_event(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.security_event(p)

    async def data_transfer(self, p: dict[str, Any]) -> dict[str, Any]:
        log.info("%s: DataTransfer from %s (%s)", self.id, p.get("vendorId"), p.get("messageId"))
        reply = await self.host.relay_data_transfer(self.id, p)  # to a billing backend
        if reply is not None:
            return {"status": reply.get("status"), "data": reply.get("data")}
        return {"status": "UnknownVendorId"}

    def log_status(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        """Firmware update or log upload progress (the station desk follows it too)."""
        log.info("%s: %s status %s", self.id, kind, p.get("status"))
        return {}

    def security_event(self, p: dict[str, Any]) -> dict[str, Any]:
        text = f"security event {p.get('type')}: {p.get('techInfo') or ''}".strip(": ")
        log.warning("%s: %s", self.id, text)
        self.event("security_event", text)
        return {}

    # ------------------------------------------------------------------ requests to the box

    async def request(
        self, action: str, payload: dict[str, Any], wait_s: float | None = None
    ) -> dict[str, Any]:
        """Send a CALL and wait for its reply; one outstanding request at a time (OCPP-J)."""
        if self.closed:
            raise NotConnected("charge point not connected")
        wait = wait_s if wait_s is not None else self.host.settings.response_timeout_s
        async with self._call_lock:
            self._seq += 1
            uid = f"as{self._seq}"
            fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._pending[uid] = fut
            try:
                await self.ws.send(_dumps([2, uid, action, payload]))
                async with asyncio.timeout(wait):
                    reply = await fut
            except TimeoutError:
                raise CallTimeout(f"box did not answer {action} within {wait:g} s") from None
            except ConnectionClosed:
                raise NotConnected("charge point not connected") from None
            finally:
                self._pending.pop(uid, None)
        if reply[0] == 4:
            code = str(reply[2]) if len(reply) > 2 else "GenericError"
            desc = str(reply[3]) if len(reply) > 3 else ""
            raise OcppCallError(action, code, desc)
        result = reply[2]
        if not isinstance(result, dict):
            raise OcppCallError(action, "FormatViolation", "reply payload is not an object")
        return result

    async def try_request(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """A request whose failure is logged and tolerated (set-up steps)."""
        try:
            return await self.request(action, payload)
        except (CallTimeout, OcppCallError) as exc:
            log.warning("%s: %s", self.id, exc)
            return None

    # ------------------------------------------------------------------ shared helpers

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = True
        await self.ws.close(code, reason)

    def authorize_tag(self, id_tag: str | None, what: str = "Authorize") -> str:
        """Accepted or Invalid: never for an unknown or uncontrolled box; else from the users
        table and the unknown-tags policy."""
        why = self.refusal()
        if why is not None:
            self.refuse(what, why)
            return "Invalid"
        if not id_tag:
            return "Invalid"
        if self.host.settings.unknown_tags == "accept":
            return "Accepted"
        try:
            return "Accepted" if self.host.hooks.authorize(id_tag) else "Invalid"
        except Exception:
            log.exception("%s: checking id tag failed", self.id)
            return "Invalid"

    async def check_tag(
        self, id_tag: str | None, what: str = "Authorize", connector: int | None = None
    ) -> str:
        """The status for a tag at this box: the configured wallbox's authorization mode
        decides (users table, billing backend); without one, `authorize_tag`'s policy."""
        if self.refusal() is not None:
            return self.authorize_tag(id_tag, what)
        try:
            status = await self.host.hooks.check_tag(
                self.id, connector, id_tag, self.record.protocol
            )
        except Exception:
            log.exception("%s: checking id tag failed", self.id)
            return "Invalid"
        return self.authorize_tag(id_tag, what) if status is None else status

    def event(self, kind: str, message: str) -> None:
        self.host.box_event(kind, message, self.id)

    def apply_sample(self, state: ConnectorState, sample: MeterSample) -> None:
        state.update_meter(sample)
        if sample.signed and state.session_id is not None:
            state.signed.extend(sample.signed)

    def parse_meter(self, payload: dict[str, Any]) -> MeterSample:
        try:
            return parse_meter_values(payload.get("meterValue"))
        except MeterFormatError as exc:
            raise BadMessage(self.FORMAT_ERROR, str(exc)) from None

    # ------------------------------------------------------------------ sessions

    async def end_session(self, state: ConnectorState, reason: str, at: str | None = None) -> None:
        """Close the session of a transaction the box will never end itself (it rebooted, or
        started another one on the same connector)."""
        await self._store_stop(_take_session(state), reason, at)

    def rebooted(self, reason: str) -> None:
        """The box booted: transactions it had open are over (it reports none of them again)."""
        for _, state in self.record.open_transactions():
            self.spawn(self._store_stop(_take_session(state), reason, None))

    async def _store_stop(self, taken: _Taken, reason: str, at: str | None) -> None:
        sid, energy, start, signed = taken
        if sid is None:
            return
        try:
            await asyncio.to_thread(
                self.host.hooks.sessions.stop,
                sid,
                at or now_iso(),
                energy,
                reason,
                signed,
                meter_start_wh=start,
            )
        except ValueError as exc:
            log.warning("%s: closing session %s failed: %s", self.id, sid, exc)
            return
        log.info("%s: session %s closed (%s)", self.id, sid, reason)

    def stack_level(self) -> int:
        style = self.host.profile_style(self.id)
        if style.stack_level is not None:
            return style.stack_level
        top = self.record.caps.max_stack_level
        return top if top is not None else 1

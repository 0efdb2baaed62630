"""One live connection of a charge point: frame loop, fast path, requests to the box.

Why not the `ocpp` library's own loop: it handles one message at a time, validates every message
in a thread pool, and deadlocks when a handler sends a request. Here the frame loop answers the
hot messages (Heartbeat, StatusNotification, MeterValues) itself with cheap, lenient checks,
hands every other request to a fresh `ocpp` ChargePoint for schema validation and routing, and
matches replies to our own requests without blocking the loop. Follow-up work (reading
capabilities, default-deny, meter setup) runs in a task after the reply has gone out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from devices.ocpp.meter import MeterFormatError, MeterSample, parse_meter_values
from devices.ocpp.settings import OcppSettings
from devices.ocpp.state import DENY_PROFILE_ID, ChargePointRecord, ConnectorState
from manager.model import OcppHooks

log = logging.getLogger(__name__)

_UID = re.compile(r'^\s*\[\s*[234]\s*,\s*"([^"\\]{1,64})"')


class OcppCallError(Exception):
    """The box answered our request with a CALLERROR."""

    def __init__(self, action: str, code: str, description: str) -> None:
        super().__init__(f"{action}: box answered {code} ({description})")
        self.code = code
        self.description = description


class CallTimeout(Exception):
    """The box did not answer our request in time."""


class NotConnected(Exception):
    """The connection closed before the box answered."""


class BadMessage(Exception):
    """A request from the box we refuse with a CALLERROR; nothing of it is stored."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True)
class ProfileStyle:
    """How a box wants its charging profiles (per-device quirk options)."""

    stack_level: int | None = None  # None: the highest the box allows
    relative: bool = False
    watts: bool = False
    voltage_v: float = 230.0


class Host(Protocol):
    """What a connection needs from the server that owns it."""

    settings: OcppSettings
    hooks: OcppHooks

    def profile_style(self, cb_id: str) -> ProfileStyle: ...

    def is_known(self, cb_id: str) -> bool: ...

    def is_released(self, cb_id: str) -> bool: ...

    def connection_ready(self, conn: OcppConnection) -> None: ...


class _WireLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The `ocpp` library logs every frame at INFO and bad payloads with a traceback; tone it
    down to debug frames and one-line warnings."""

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.logger.debug(msg, *args)

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        self.logger.warning("%s (%s)", str(msg) % args if args else msg, exc)


wire_log = _WireLog(logging.getLogger("devices.ocpp.wire"), {})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _dumps(msg: list[Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False)


class OcppConnection:
    """Base of the 1.6 and 2.0.1 connections; subclasses add the version's messages."""

    version: ClassVar[str]
    #: CALLERROR codes that differ between the versions
    FORMAT_ERROR: ClassVar[str]
    RPC_ERROR: ClassVar[str]
    TYPE_ERROR: ClassVar[str] = "TypeConstraintViolation"
    #: how long to wait for a StatusNotification after connecting before triggering one
    STATUS_GRACE_S: ClassVar[float] = 2.0

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
        self._raw_payload: dict[str, Any] = {}
        self.handler = self._make_handler()
        self._fast: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "Heartbeat": self._on_heartbeat,
            "StatusNotification": self._on_status,
            "MeterValues": self._on_meter_values,
        }

    # ------------------------------------------------------------------ subclass hooks

    def _make_handler(self) -> Any:
        raise NotImplementedError

    def _known_actions(self) -> frozenset[str]:
        raise NotImplementedError

    async def after_connect(self) -> None:
        """Capabilities, default-deny, meter setup; runs after the first request is answered."""
        raise NotImplementedError

    def _on_status(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _on_meter_values(self, payload: dict[str, Any]) -> dict[str, Any]:
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
        raise NotImplementedError

    async def clear_profile(self, profile_id: int) -> str:
        """ClearChargingProfile by id; returns the box's status (Accepted / Unknown)."""
        raise NotImplementedError

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
            log.warning("%s: refused a frame of %d bytes", self.id, len(raw))
            await self._send_error(
                match.group(1) if match else "-1",
                self.FORMAT_ERROR,
                f"message larger than {self.host.settings.max_frame_bytes} bytes",
            )
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            log.warning("%s: frame is not JSON: %.80r", self.id, raw)
            await self._send_error("-1", self.FORMAT_ERROR, "message is not valid JSON")
            return
        if (
            not isinstance(msg, list)
            or len(msg) < 3
            or msg[0] not in (2, 3, 4)
            or not isinstance(msg[1], str)
        ):
            uid = msg[1] if isinstance(msg, list) and len(msg) > 1 else "-1"
            code = self.RPC_ERROR
            if (
                isinstance(msg, list)
                and msg
                and isinstance(msg[0], int)
                and msg[0] not in (2, 3, 4)
            ):
                code = self._message_type_error()
            await self._send_error(
                uid if isinstance(uid, str) else "-1", code, "not an OCPP-J RPC frame"
            )
            return
        if msg[0] == 2:
            await self._on_call(raw, msg)
        else:
            fut = self._pending.get(msg[1])
            if fut is not None and not fut.done():
                fut.set_result(msg)
            else:
                log.info("%s: reply to unknown or expired request %s ignored", self.id, msg[1])

    def _message_type_error(self) -> str:
        return self.RPC_ERROR

    async def _on_call(self, raw: str, msg: list[Any]) -> None:
        uid = msg[1]
        if len(msg) != 4 or not isinstance(msg[2], str) or not isinstance(msg[3], dict):
            await self._send_error(uid, self.RPC_ERROR, "a CALL is [2, id, action, {payload}]")
            return
        action: str = msg[2]
        fast = self._fast.get(action)
        if fast is not None:
            try:
                result = fast(msg[3])
            except BadMessage as exc:
                log.warning("%s: refused %s: %s", self.id, action, exc.description)
                await self._send_error(uid, exc.code, exc.description)
                return
            await self.ws.send(_dumps([3, uid, result]))
        elif action in self.handler.route_map:
            self._raw_payload = msg[3]
            try:
                await self.handler.route_message(raw)
            finally:
                self._raw_payload = {}
        else:
            known = action in self._known_actions()
            code = "NotSupported" if known else "NotImplemented"
            text = f"{action} is not supported" if known else f"unknown action {action}"
            log.info("%s: %s", self.id, text)
            await self._send_error(uid, code, text)
            return
        self.ready = True
        if action == "BootNotification" or self._followup is None:
            self._start_followup()

    def _start_followup(self) -> None:
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
        if not self.closed:
            self.host.connection_ready(self)

    async def _send_error(self, uid: str, code: str, description: str) -> None:
        try:
            await self.ws.send(_dumps([4, uid, code, description, {}]))
        except ConnectionClosed:
            pass

    def _on_heartbeat(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": now_iso()}

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

    def authorize_tag(self, id_tag: str | None) -> str:
        """Accepted or Invalid, from the users table and the unknown-tags policy."""
        if not id_tag:
            return "Invalid"
        if self.host.settings.unknown_tags == "accept":
            return "Accepted"
        try:
            return "Accepted" if self.host.hooks.authorize(id_tag) else "Invalid"
        except Exception:
            log.exception("%s: checking id tag failed", self.id)
            return "Invalid"

    def event(self, kind: str, message: str) -> None:
        try:
            self.host.hooks.events(kind, message, device=self.id)
        except Exception:
            log.exception("event sink failed")

    def apply_sample(self, state: ConnectorState, sample: MeterSample) -> None:
        state.update_meter(sample)
        if sample.signed and state.session_id is not None:
            state.signed.extend(sample.signed)

    def parse_meter(self, payload: dict[str, Any]) -> MeterSample:
        try:
            return parse_meter_values(payload.get("meterValue"))
        except MeterFormatError as exc:
            raise BadMessage(self.FORMAT_ERROR, str(exc)) from None

    async def install_deny(self) -> tuple[str, str | None]:
        """Default-deny: TxDefaultProfile 0 on connector/EVSE 0, so nothing charges unasked."""
        style = self.host.profile_style(self.id)
        unit = "W" if style.watts or self.record.caps.watts_only else "A"
        try:
            status, reason = await self.set_limit(
                0,
                0.0,
                unit,
                None,
                profile_id=DENY_PROFILE_ID,
                purpose="TxDefaultProfile",
                stack_level=self.stack_level(),
                relative=style.relative,
            )
        except (CallTimeout, OcppCallError) as exc:
            log.warning("%s: default-deny profile not installed: %s", self.id, exc)
            return "Failed", str(exc)
        if status != "Accepted":
            text = f"default-deny profile rejected: box answered {status}"
            if reason:
                text += f" ({reason})"
            log.warning("%s: %s", self.id, text)
            self.event("profile_rejected", text)
        return status, reason

    def stack_level(self) -> int:
        style = self.host.profile_style(self.id)
        if style.stack_level is not None:
            return style.stack_level
        top = self.record.caps.max_stack_level
        return top if top is not None else 1

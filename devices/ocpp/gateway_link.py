"""The gateway's WebSocket link to a billing backend: connect, reconnect, send, receive.

One link per wallbox. It dials the backend as an OCPP-J charge point (Basic auth, TLS 1.2+),
reconnects with exponential back-off and jitter, and turns failures into a short code an
operator can act on (wrong password, certificate not trusted, host unreachable). Requests from
the backend are checked against the `ocpp` library's schemas and answered by
devices/ocpp/gateway_commands.py (anything invalid gets the proper CALLERROR); requests to the
backend are sent as the exact JSON the gateway built, so what a box signed stays byte for byte
as it was.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

log = logging.getLogger(__name__)

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
OPEN_TIMEOUT_S = 10.0
RESPONSE_TIMEOUT_S = 30.0


class BackendError(Exception):
    """The backend answered a request with a CALLERROR."""

    def __init__(self, action: str, code: str, text: str) -> None:
        super().__init__(f"{action}: backend answered {code} ({text})")
        self.code = code


class Offline(Exception):
    """No connection to the backend (or it closed before answering)."""


def classify(exc: BaseException) -> tuple[str, str]:
    """A failure to connect as (code, detail): the code is translated on the dashboard."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return ("http_401" if status == 401 else f"http_{status}", str(exc))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "certificate_untrusted", exc.verify_message or str(exc)
    if isinstance(exc, ssl.SSLError):
        return "tls_failed", str(exc)
    if isinstance(exc, socket.gaierror):
        return "unknown_host", str(exc)
    if isinstance(exc, (ConnectionRefusedError, TimeoutError, OSError)):
        return "unreachable", str(exc) or type(exc).__name__
    if isinstance(exc, InvalidURI):
        return "bad_url", str(exc)
    if isinstance(exc, WebSocketException):
        return "protocol", str(exc)
    return "other", str(exc) or type(exc).__name__


def backoff(attempt: int, rng: random.Random) -> float:
    """Exponential back-off with jitter: 1, 2, 4 ... 30 s, each drawn from its upper half."""
    top = min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** max(0, attempt))
    return rng.uniform(top / 2, top)


@dataclass
class LinkState:
    connected: bool = False
    since: float | None = None
    error: str | None = None
    detail: str | None = None


class Link:
    """Keeps one backend connection up and offers `request()` over it.

    `router(ws)` builds the handler that answers the backend's requests (gateway_commands);
    `on_open()` runs after every connect (boot, status, queue) and `on_close()` after a drop.
    """

    def __init__(
        self,
        name: str,
        endpoint: str,
        subprotocol: str,
        *,
        headers: dict[str, str],
        ssl_ctx: ssl.SSLContext | None,
        router: Callable[[ClientConnection], Any],
        on_open: Callable[[], Awaitable[None]],
        on_close: Callable[[], None],
        events: Callable[[str, str], None],
        format_error: str,
        actions: frozenset[str],
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.subprotocol = subprotocol
        self.headers = headers
        self.ssl_ctx = ssl_ctx
        self.router = router
        self.on_open = on_open
        self.on_close = on_close
        self.events = events
        self.format_error = format_error
        self.actions = actions
        self.state = LinkState()
        self.ws: ClientConnection | None = None
        self.cp: Any = None
        self._pending: dict[str, asyncio.Future[list[Any]]] = {}
        self._seq = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._rng = random.Random()
        self.reconnect_now = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(1000, "shutting down"), 2.0)
            except (TimeoutError, ConnectionClosed, OSError):
                pass
        if self._runner is not None:
            self._runner.cancel()
            try:
                await self._runner
            except (asyncio.CancelledError, Exception):
                pass
        for task in list(self._tasks):
            task.cancel()

    async def reconnect(self) -> None:
        """Reset from the backend: drop the connection; the loop dials again at once."""
        self.reconnect_now.set()
        if self.ws is not None:
            await self.ws.close(1000, "reset")

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                async with connect(
                    self.endpoint,
                    subprotocols=[self.subprotocol],  # type: ignore[list-item]
                    additional_headers=self.headers,
                    ssl=self.ssl_ctx,
                    open_timeout=OPEN_TIMEOUT_S,
                    compression=None,
                    user_agent_header="ampshare-gateway",
                ) as ws:
                    attempt = 0
                    await self._serve(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)
            if self.reconnect_now.is_set():
                self.reconnect_now.clear()
                continue
            delay = backoff(attempt, self._rng)
            attempt += 1
            try:
                await asyncio.wait_for(self.reconnect_now.wait(), delay)
                self.reconnect_now.clear()
            except TimeoutError:
                pass

    def _failed(self, exc: BaseException) -> None:
        code, detail = classify(exc)
        if (code, detail) != (self.state.error, self.state.detail):
            log.warning("%s: backend %s: %s (%s)", self.name, self.endpoint, code, detail)
        self.state.error, self.state.detail = code, detail

    async def _serve(self, ws: ClientConnection) -> None:
        if ws.subprotocol != self.subprotocol:
            self.state.error, self.state.detail = "protocol", f"backend chose {ws.subprotocol}"
            await ws.close(1002, "subprotocol")
            return
        self.ws, self.cp = ws, self.router(ws)
        self.state = LinkState(True, time.time(), None, None)
        log.info("%s: connected to %s", self.name, self.endpoint)
        self.events("gateway_connected", self.endpoint)
        opener = self.spawn(self.on_open())
        try:
            async for raw in ws:
                await self._frame(raw)
        except ConnectionClosed:
            pass
        finally:
            opener.cancel()
            self.ws = None
            self.state.connected = False
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(Offline("connection closed"))
            log.info("%s: disconnected from %s", self.name, self.endpoint)
            self.events("gateway_disconnected", self.endpoint)
            self.on_close()
        if ws.close_code not in (None, 1000) and self.state.error is None:
            self.state.error = "closed"
            self.state.detail = f"backend closed the connection ({ws.close_code})"

    # ------------------------------------------------------------------ frames

    async def _frame(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            await self._error("-1", "OCPP-J uses text frames")
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            await self._error("-1", "message is not valid JSON")
            return
        if not isinstance(msg, list) or len(msg) < 3 or not isinstance(msg[1], str):
            await self._error("-1", "not an OCPP-J RPC frame")
            return
        if msg[0] == 2:
            if len(msg) != 4 or not isinstance(msg[3], dict) or not isinstance(msg[2], str):
                await self._error(msg[1], "a CALL is [2, id, action, {payload}]")
                return
            if msg[2] not in self.cp.route_map:  # OCPP-J: unknown vs known but unsupported
                code = "NotSupported" if msg[2] in self.actions else "NotImplemented"
                await self.send([4, msg[1], code, f"{msg[2]} is not supported", {}])
                return
            self.spawn(self._route(raw))
        elif msg[0] in (3, 4):
            fut = self._pending.get(msg[1])
            if fut is not None and not fut.done():
                fut.set_result(msg)
        else:
            await self._error(msg[1], "unknown message type")

    async def _route(self, raw: str) -> None:
        try:
            await self.cp.route_message(raw)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("%s: handling a backend request failed", self.name)

    async def _error(self, uid: str, text: str) -> None:
        log.warning("%s: refused a frame from the backend: %s", self.name, text)
        await self.send([4, uid, self.format_error, text, {}])

    async def send(self, msg: list[Any]) -> None:
        if self.ws is None:
            raise Offline("not connected")
        try:
            await self.ws.send(json.dumps(msg, separators=(",", ":"), ensure_ascii=False))
        except ConnectionClosed:
            raise Offline("connection closed") from None

    async def request(
        self, action: str, payload: dict[str, Any], timeout_s: float = RESPONSE_TIMEOUT_S
    ) -> dict[str, Any]:
        """One CALL at a time (OCPP-J); raises Offline, BackendError or TimeoutError."""
        async with self._lock:
            if self.ws is None:
                raise Offline("not connected")
            self._seq += 1
            uid = f"gw{self._seq}"
            fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._pending[uid] = fut
            try:
                await self.send([2, uid, action, payload])
                async with asyncio.timeout(timeout_s):
                    reply = await fut
            finally:
                self._pending.pop(uid, None)
        if reply[0] == 4:
            code = str(reply[2]) if len(reply) > 2 else "GenericError"
            raise BackendError(action, code, str(reply[3]) if len(reply) > 3 else "")
        return reply[2] if isinstance(reply[2], dict) else {}

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

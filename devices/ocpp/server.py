"""The embedded OCPP server: one port, OCPP 1.6J and 2.0.1, TLS off / detect / on, Basic Auth.

Each charge point gets a fresh connection object per WebSocket connection (never reused); what
ampshare learned about the box (identity, capabilities, meter, transactions) is kept in a record
per ChargeBox ID so that a reconnect picks up where it left off. A reconnect with the same ID
replaces the old connection. Each connection runs in its own task, so a slow or misbehaving
charge point only ever delays itself.
"""

from __future__ import annotations

import asyncio
import functools
import http
import logging
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import parse_subprotocol
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from devices.ocpp.auth import charge_box_id, check_basic_auth
from devices.ocpp.connection import OcppConnection, ProfileStyle
from devices.ocpp.guard import EventLimiter, LoginThrottle
from devices.ocpp.local_list import LocalLists
from devices.ocpp.sessions import restore_sessions
from devices.ocpp.settings import OcppSettings
from devices.ocpp.state import ChargePointRecord
from devices.ocpp.station_inbox import StationInbox
from devices.ocpp.station_routes import StationV16, StationV201
from devices.ocpp.tls import CertificateStore, DetectingConnection, certificate_names_box
from manager.model import OcppHooks

log = logging.getLogger(__name__)

SUBPROTOCOLS: dict[str, type[OcppConnection]] = {
    "ocpp2.0.1": StationV201,  # with the station management messages (admin actions)
    "ocpp1.6": StationV16,
}
#: frames above this close the connection (the soft limit in the settings only refuses them)
HARD_MAX_FRAME = 4 * 1024 * 1024
OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
#: unconfigured boxes remembered for the devices page; the oldest are forgotten first
MAX_UNKNOWN_BOXES = 100
#: how long a connected box has to answer a ping before a newcomer may take its id over (s)
TAKEOVER_PING_S = 5.0


class Attachment(Protocol):
    """A configured OCPP wallbox (one connector of a box), as the driver registers it."""

    style: ProfileStyle
    password: str | None

    async def resend(self, conn: OcppConnection) -> None:
        """Send the current setpoint again on a fresh connection."""
        ...


def _peer(conn: ServerConnection) -> str:
    addr = conn.remote_address
    return str(addr[0]) if addr else "?"


def _offered(headers: Headers) -> list[str]:
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        try:
            offered.extend(parse_subprotocol(value))
        except InvalidHeader:
            continue
    return offered


def _select_subprotocol(
    conn: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    for name in SUBPROTOCOLS:  # 2.0.1 first when a box offers both
        if name in offered:
            return Subprotocol(name)
    return None


class BoxObserver(Protocol):
    """The gateway's pass-through: sees what boxes sent, answers a box's DataTransfer."""

    def box_call(self, cb_id: str, action: str, payload: dict[str, Any], record: Any) -> None: ...

    async def box_data_transfer(
        self, cb_id: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None: ...

    async def box_authorize(self, cb_id: str, payload: dict[str, Any]) -> dict[str, Any] | None: ...


class OcppServer:
    def __init__(self, settings: OcppSettings, hooks: OcppHooks, data_dir: Path) -> None:
        self.settings = settings
        self.hooks = hooks
        self.certs = CertificateStore(Path(data_dir) / "ocpp")
        self.local_lists = LocalLists(hooks, Path(data_dir))
        self._records: dict[str, ChargePointRecord] = {}
        self._conns: dict[str, OcppConnection] = {}
        self._attached: dict[str, dict[int, Attachment]] = {}
        self._server: Server | None = None
        self._ssl: ssl.SSLContext | None = None
        self._detecting: set[DetectingConnection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()
        self._logins = LoginThrottle()
        self._event_limit = EventLimiter()
        #: gets every request a box sent once it is answered (the gateway's pass-through)
        self.observer: BoxObserver | None = None
        self._stranger_limit = EventLimiter()
        #: report parts and transfer progress that admin station actions wait for
        self.station = StationInbox()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        async with self._lock:
            if self._server is None:
                await asyncio.to_thread(self.certs.ensure)
                await self._open()

    async def stop(self) -> None:
        """Close the listener and every connection; idempotent."""
        async with self._lock:
            await self._close()

    async def apply_settings(self, settings: OcppSettings) -> None:
        """Take new settings at once; re-open the listener when port, TLS or passwords change.

        If the new listener cannot be opened (port taken), the old one is restored and
        ValueError says why.
        """
        async with self._lock:
            old = self.settings
            self.settings = settings
            if self._server is None or settings.listener_key() == old.listener_key():
                return
            log.info("OCPP settings changed: re-opening the listener")
            await self._close()
            try:
                await self._open()
            except OSError as exc:
                self.settings = old
                await self._open()
                raise ValueError(
                    f"port: cannot listen on {settings.host}:{settings.port} ({exc.strerror})"
                ) from None

    async def _open(self) -> None:
        s = self.settings
        self._ssl = None
        if s.tls != "off":
            self._ssl = self.certs.server_context(s.ca_pem)
        kwargs: dict[str, Any] = {}
        if s.tls == "on":
            kwargs["ssl"] = self._ssl
        elif s.tls == "detect":
            kwargs["create_connection"] = functools.partial(
                DetectingConnection, tls_context=lambda: self._ssl, tracker=self._detecting
            )
        self._server = await serve(
            self._handle,
            s.host,
            s.port,
            select_subprotocol=_select_subprotocol,
            process_request=self._process_request,
            compression="deflate",  # negotiated only for 2.0.1 boxes that ask: see below
            ping_interval=s.ping_interval_s,
            ping_timeout=s.ping_interval_s,
            max_size=HARD_MAX_FRAME,
            open_timeout=OPEN_TIMEOUT_S,
            close_timeout=CLOSE_TIMEOUT_S,
            server_header="ampshare",
            **kwargs,
        )
        log.info("OCPP server listening on %s:%d (TLS %s)", s.host, self.port, s.tls)

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        for conn in list(self._detecting):
            conn.abort_detection()
        server.close()
        await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        log.info("OCPP server stopped")

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        if self._server is None:
            return self.settings.port
        return int(self._server.sockets[0].getsockname()[1])

    # ------------------------------------------------------------------ handshake

    def _expected_password(self, cb_id: str) -> str | None:
        try:
            own = self.hooks.device_password(cb_id)
        except Exception:
            log.exception("looking up the device password failed")
            own = None
        if not own:
            for att in self._attached.get(cb_id, {}).values():
                own = own or att.password
        return own or self.settings.password

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        try:
            cb_id = charge_box_id(request.path)
        except ValueError as exc:
            log.warning("refused connection from %s: %s", conn.remote_address, exc)
            return conn.respond(http.HTTPStatus.NOT_FOUND, f"{exc}\n")
        conn.ocpp_id = cb_id  # type: ignore[attr-defined]
        conn.ocpp_authenticated = False  # type: ignore[attr-defined]
        if "ocpp2.0.1" not in _offered(request.headers) and "Sec-WebSocket-Extensions" in (
            request.headers
        ):
            # compression is optional in 1.6 and costs more than half the throughput
            del request.headers["Sec-WebSocket-Extensions"]
        peer = _peer(conn)
        wait = self._logins.blocked_for(peer)
        if wait > 0:
            response = conn.respond(http.HTTPStatus.TOO_MANY_REQUESTS, "Too many failed logins\n")
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        problem = self._check_login(conn, request, cb_id)
        if problem is None:
            return None
        if self._logins.failed(peer):
            log.warning("%s: too many failed logins, refusing it for a while", peer)
        log.warning("%s: refused connection from %s: %s", cb_id, conn.remote_address, problem)
        response = conn.respond(http.HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        response.headers["WWW-Authenticate"] = 'Basic realm="ampshare OCPP", charset="UTF-8"'
        return response

    def _check_login(self, conn: ServerConnection, request: Request, cb_id: str) -> str | None:
        """None if the box may connect (and whether it proved who it is), else why not."""
        cert = conn.transport.get_extra_info("peercert")
        if cert:
            if not certificate_names_box(cert, cb_id):
                return "client certificate is not issued to this ChargeBox ID"
            log.info("%s: authenticated by client certificate", cb_id)
            conn.ocpp_authenticated = True  # type: ignore[attr-defined]
            return None
        expected = self._expected_password(cb_id)
        if expected is None:
            if self.settings.ca_pem:
                return "no client certificate and no password"
            return None
        problem = check_basic_auth(request.headers.get("Authorization"), cb_id, expected)
        if problem is None:
            conn.ocpp_authenticated = True  # type: ignore[attr-defined]
            self._logins.succeeded(_peer(conn))
        return problem

    # ------------------------------------------------------------------ connections

    async def _handle(self, ws: ServerConnection) -> None:
        cb_id: str = ws.ocpp_id  # type: ignore[attr-defined]
        protocol = ws.subprotocol
        if protocol is None and _offered(ws.request.headers):  # type: ignore[union-attr]
            log.warning("%s: offers no supported subprotocol (ocpp1.6, ocpp2.0.1)", cb_id)
            await ws.close(1002, "supported subprotocols: ocpp1.6, ocpp2.0.1")
            return
        old = self._conns.get(cb_id)
        if old is not None and not await self._may_take_over(ws, old, cb_id):
            await ws.close(1008, "this ChargeBox ID is connected already")
            return
        cls = SUBPROTOCOLS.get(protocol or "ocpp1.6", StationV16)
        record = await self._record_for(cb_id)
        record.protocol = cls.version
        old = self._conns.get(cb_id)
        conn = cls(self, ws, record)
        self._conns[cb_id] = conn
        record.connected = True
        record.touch()
        if old is not None:
            log.info("%s: new connection replaces the old one", cb_id)
            old.closed = True
            self._spawn(old.close(1000, "replaced by a new connection"))
        else:
            known = "" if self.is_known(cb_id) else " (not configured as a device)"
            log.info(
                "%s: connected with OCPP %s from %s%s", cb_id, cls.version, ws.remote_address, known
            )
            self.box_event(
                "charge_point_connected", f"{cb_id} connected (OCPP {cls.version}){known}", cb_id
            )
        conn.start_setup()
        try:
            await conn.run()
        finally:
            if self._conns.get(cb_id) is conn:
                del self._conns[cb_id]
                record.connected = False
                log.info("%s: disconnected", cb_id)
                self.box_event("charge_point_disconnected", f"{cb_id} disconnected", cb_id)

    async def _may_take_over(self, ws: ServerConnection, old: OcppConnection, cb_id: str) -> bool:
        """A second connection under a configured box's id replaces the first only if it proved
        who it is, or if the first one is dead (it does not answer a ping)."""
        if old.closed or not self._configured(cb_id) or ws.ocpp_authenticated:  # type: ignore[attr-defined]
            return True
        try:
            pong = await old.ws.ping()
            async with asyncio.timeout(TAKEOVER_PING_S):
                await pong
        except (TimeoutError, ConnectionClosed):
            return True
        log.warning(
            "%s: refused a second connection from %s: the connected box still answers",
            cb_id,
            ws.remote_address,
        )
        self.box_event(
            "charge_point_takeover_refused",
            f"{cb_id}: a second connection from {_peer(ws)} was refused: the connected box"
            " still answers",
            cb_id,
        )
        return False

    async def _record_for(self, cb_id: str) -> ChargePointRecord:
        """The box's record; a new one picks up the box's open sessions (ampshare restarted)."""
        record = self._records.get(cb_id)
        if record is not None:
            return record
        record = self._records[cb_id] = ChargePointRecord(cb_id)
        self._prune_unknown(keep=cb_id)
        if self._configured(cb_id):
            try:
                rows = await asyncio.to_thread(self.hooks.sessions.open_sessions)
            except Exception:
                log.exception("%s: reading open sessions failed", cb_id)
                rows = []
            restore_sessions(record, rows)
        return record

    def _prune_unknown(self, keep: str) -> None:
        """At most MAX_UNKNOWN_BOXES unconfigured boxes are remembered; the oldest go first."""
        unknown = [r for r in self._records.values() if r.id != keep and not self._configured(r.id)]
        excess = len(unknown) + 1 - MAX_UNKNOWN_BOXES
        if excess <= 0:
            return
        unknown.sort(key=lambda r: (r.connected, r.last_seen or 0.0))
        for rec in unknown[:excess]:
            del self._records[rec.id]

    def box_event(self, kind: str, message: str, cb_id: str) -> None:
        """Events about boxes are rate-limited, unconfigured boxes all together and apart from
        the configured ones: a flapping or hostile client cannot fill the event log, nor
        crowd out what the configured boxes report."""
        limiter = self._event_limit if self._configured(cb_id) else self._stranger_limit
        allowed, held = limiter.allow()
        if not allowed:
            return
        if held:
            self._event(
                "charge_point_events_suppressed",
                f"{held} events about charge points were not recorded (too many at once)",
                cb_id,
            )
        self._event(kind, message, cb_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, kind: str, message: str, cb_id: str) -> None:
        try:
            self.hooks.events(kind, message, device=cb_id)
        except Exception:
            log.exception("event sink failed")

    # ------------------------------------------------------------------ Host (for connections)

    def profile_style(self, cb_id: str) -> ProfileStyle:
        for att in self._attached.get(cb_id, {}).values():
            return att.style
        return ProfileStyle()

    def is_known(self, cb_id: str) -> bool:
        return bool(self._attached.get(cb_id))

    def _configured(self, cb_id: str) -> bool:
        """A device of the configuration: managed now, or switched off and given back."""
        if self.is_known(cb_id):
            return True
        try:
            return bool(self.hooks.is_released(cb_id))
        except Exception:
            log.exception("looking up the device failed")
            return False

    def is_released(self, cb_id: str) -> bool:
        """Deactivated just now (in memory) or disabled in the configuration (across restarts)."""
        rec = self._records.get(cb_id)
        return (rec is not None and rec.released) or self.hooks.is_released(cb_id)

    async def resend_setpoints(self, conn: OcppConnection) -> None:
        for att in list(self._attached.get(conn.id, {}).values()):
            if conn.closed:
                return
            await att.resend(conn)

    def observe_call(self, conn: OcppConnection, action: str, payload: dict[str, Any]) -> None:
        if self.observer is None:
            return
        try:
            self.observer.box_call(conn.id, action, payload, conn.record)
        except Exception:
            log.exception("%s: the gateway observer failed", conn.id)

    async def relay_data_transfer(
        self, cb_id: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The billing backend's answer to a box's DataTransfer (None: no gateway)."""
        if self.observer is None:
            return None
        return await self.observer.box_data_transfer(cb_id, payload)

    def refresh_local_lists(self) -> None:
        """The users changed: bring every connected box's local list in step."""
        for conn in list(self._conns.values()):
            if conn.ready and not conn.closed:
                conn.spawn(self.local_lists.sync(conn))

    async def relay_authorize(self, cb_id: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The billing backend's idTagInfo / idTokenInfo for a box's tag (None: no gateway)."""
        if self.observer is None:
            return None
        return await self.observer.box_authorize(cb_id, payload)

    def connection_ready(self, conn: OcppConnection) -> None:
        conn.spawn(self.local_lists.sync(conn))
        caps = conn.record.caps
        log.info(
            "%s: ready (stack level %s, units %s, measurands %s)",
            conn.id,
            conn.stack_level(),
            ",".join(caps.rate_units) or "?",
            ",".join(caps.measurands) or "?",
        )

    # ------------------------------------------------------------------ for the driver

    def attach(self, cb_id: str, connector: int, device: Attachment) -> None:
        self._attached.setdefault(cb_id, {})[connector] = device

    def detach(self, cb_id: str, connector: int, device: Attachment) -> None:
        devices = self._attached.get(cb_id, {})
        if devices.get(connector) is device:
            del devices[connector]
        if not devices:
            self._attached.pop(cb_id, None)

    def attached(self, cb_id: str) -> dict[int, Attachment]:
        return dict(self._attached.get(cb_id, {}))

    def record(self, cb_id: str) -> ChargePointRecord | None:
        return self._records.get(cb_id)

    def connection(self, cb_id: str) -> OcppConnection | None:
        conn = self._conns.get(cb_id)
        return None if conn is None or conn.closed else conn

    # ------------------------------------------------------------------ for the manager

    def charge_points(self) -> list[dict[str, Any]]:
        """Every charge point seen since start, for the devices page (unknown ones to add)."""
        rows = []
        for rec in sorted(self._records.values(), key=lambda r: r.id):
            seen = rec.last_seen
            rows.append(
                {
                    "id": rec.id,
                    "vendor": rec.vendor,
                    "model": rec.model,
                    "serial": rec.serial,
                    "firmware": rec.firmware,
                    "protocol": rec.protocol,
                    "connected": rec.connected,
                    "last_seen": (
                        datetime.fromtimestamp(seen, UTC).isoformat(timespec="seconds")
                        if seen
                        else None
                    ),
                    "known": self.is_known(rec.id),
                    "messages": rec.messages,
                }
            )
        return rows

    def import_certificate(self, cert_pem: str, key_pem: str) -> None:
        """Use an own server certificate (PEM, chain allowed) and key; raises ValueError."""
        self.certs.import_pem(cert_pem, key_pem)
        if self._ssl is not None:
            self.certs.reload(self._ssl)

    def certificate_pem(self) -> str:
        return self.certs.certificate_pem()

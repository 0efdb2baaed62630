"""Station management messages from the box: report parts, transfer progress, CSRs.

The version handlers (v16, v201) route the messages every box sends; these subclasses add the
ones that answer admin actions. Following the `ocpp` library's rules, every `@on` handler only
records and returns its call_result; a request back to the box (CertificateSigned after a
SignCertificate) goes out from a task started in `@after`, after the reply was sent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

from devices.ocpp import v16, v201
from devices.ocpp.connection import CallTimeout, NotConnected, OcppCallError, OcppConnection
from devices.ocpp.station_cost import send_cost, session_cost
from devices.ocpp.station_inbox import StationInbox

log = logging.getLogger(__name__)


def inbox_of(conn: OcppConnection) -> StationInbox:
    return conn.host.station  # type: ignore[attr-defined,no-any-return]


async def send_signed(conn: OcppConnection, csr: str, cert_type: str | None) -> None:
    """Sign a box's CSR with ampshare's CA and send the chain (CertificateSigned)."""
    signer = inbox_of(conn).signer
    if signer is None:
        return
    try:
        chain = await asyncio.to_thread(signer, conn.id, csr)
    except ValueError as exc:
        log.warning("%s: not signing its certificate request: %s", conn.id, exc)
        conn.event("certificate_refused", f"{conn.id}: certificate request not signed: {exc}")
        return
    payload: dict[str, Any] = {"certificateChain": chain}
    if conn.version == "2.0.1" and cert_type:
        payload["certificateType"] = cert_type
    try:
        reply = await conn.request("CertificateSigned", payload)
    except (CallTimeout, OcppCallError, NotConnected) as exc:
        log.warning("%s: CertificateSigned failed: %s", conn.id, exc)
        return
    status = str(reply.get("status"))
    log.info("%s: signed certificate sent, box answered %s", conn.id, status)
    conn.event("certificate_signed", f"{conn.id}: signed client certificate sent ({status})")


class Routes16(v16._Routes):
    @on(Action16.firmware_status_notification)
    def _firmware(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        inbox_of(self.conn).step(self.conn.id, "firmware", str(p.get("status")), p)
        return result16.FirmwareStatusNotification()

    @on(Action16.signed_firmware_status_notification)
    def _signed_firmware(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        inbox_of(self.conn).step(self.conn.id, "firmware", str(p.get("status")), p)
        return result16.SignedFirmwareStatusNotification()

    @on(Action16.diagnostics_status_notification)
    def _diagnostics(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        inbox_of(self.conn).step(self.conn.id, "logs", str(p.get("status")), p)
        return result16.DiagnosticsStatusNotification()

    @on(Action16.log_status_notification)
    def _log_status(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        inbox_of(self.conn).step(self.conn.id, "logs", str(p.get("status")), p)
        return result16.LogStatusNotification()

    @on(Action16.sign_certificate)
    def _sign(self, **_: Any) -> Any:
        ok = inbox_of(self.conn).signer is not None
        return result16.SignCertificate(status="Accepted" if ok else "Rejected")

    @after(Action16.sign_certificate)
    def _after_sign(self, **_: Any) -> None:
        csr = str(self.conn._raw_payload.get("csr") or "")
        self.conn.spawn(send_signed(self.conn, csr, None))


class Routes201(v201._Routes):
    @on(Action201.transaction_event)
    async def _transaction(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        tariff = inbox_of(self.conn).tariff_per_kwh
        before = session_cost(self.conn, p, tariff) if tariff is not None else None
        result = await self.conn.on_transaction_event(p)  # type: ignore[attr-defined]
        if before is not None and p.get("eventType") == "Ended":
            sid, total = before
            result.total_cost = total
            fields = {"cost": total, "tariff_per_kwh": tariff}
            try:
                await asyncio.to_thread(self.conn.host.hooks.sessions.annotate, sid, fields)
            except (ValueError, OSError) as exc:
                log.warning("%s: storing the cost of session %s failed: %s", self.id, sid, exc)
        return result

    @after(Action201.transaction_event)
    def _after_transaction(self, **_: Any) -> None:
        self.conn.reply_sent()  # type: ignore[attr-defined]
        p = self.conn._raw_payload
        tariff = inbox_of(self.conn).tariff_per_kwh
        if tariff is None or p.get("eventType") != "Updated":
            return
        now = session_cost(self.conn, p, tariff)
        if now is not None:
            tx = str(p["transactionInfo"]["transactionId"])
            self.conn.spawn(send_cost(self.conn, tx, now[1]))

    @on(Action201.notify_report)
    def _report(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        self.conn.on_report(p)  # type: ignore[attr-defined]
        inbox_of(self.conn).collect(self.conn.id, "report", p)
        return result201.NotifyReport()

    @on(Action201.report_charging_profiles)
    def _profiles(self, **_: Any) -> Any:
        inbox_of(self.conn).collect(self.conn.id, "profiles", self.conn._raw_payload)
        return result201.ReportChargingProfiles()

    @on(Action201.notify_display_messages)
    def _display(self, **_: Any) -> Any:
        inbox_of(self.conn).collect(self.conn.id, "display", self.conn._raw_payload)
        return result201.NotifyDisplayMessages()

    @on(Action201.reservation_status_update)
    def _reservation(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        text = f"reservation {p.get('reservationId')}: {p.get('reservationUpdateStatus')}"
        log.info("%s: %s", self.id, text)
        self.conn.event("reservation", f"{self.conn.id}: {text}")
        ended = inbox_of(self.conn).on_reservation_end
        if ended is not None and isinstance(p.get("reservationId"), int):
            ended(p["reservationId"])  # Expired or Removed: the wallbox is free again
        return result201.ReservationStatusUpdate()

    @on(Action201.firmware_status_notification)
    def _firmware(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        inbox_of(self.conn).step(self.conn.id, "firmware", str(p.get("status")), p)
        return result201.FirmwareStatusNotification()

    @on(Action201.log_status_notification)
    def _log_status(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        inbox_of(self.conn).step(self.conn.id, "logs", str(p.get("status")), p)
        return result201.LogStatusNotification()

    @on(Action201.sign_certificate)
    def _sign(self, **_: Any) -> Any:
        ok = inbox_of(self.conn).signer is not None
        return result201.SignCertificate(status="Accepted" if ok else "Rejected")

    @after(Action201.sign_certificate)
    def _after_sign(self, **_: Any) -> None:
        p = self.conn._raw_payload
        kind = p.get("certificateType") or "ChargingStationCertificate"
        self.conn.spawn(send_signed(self.conn, str(p.get("csr") or ""), str(kind)))


class StationV16(v16.V16Connection):
    def _make_handler(self) -> Routes16:
        return Routes16(self)


class StationV201(v201.V201Connection):
    def _make_handler(self) -> Routes201:
        return Routes201(self)

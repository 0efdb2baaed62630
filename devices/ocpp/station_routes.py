"""Station management messages from the box: report parts, transfer progress, CSRs.

The version handlers (v16, v201) route the messages every box sends; these subclasses add the
ones that answer admin actions. Every `@handles` method only records and returns its reply; a
request back to the box (CertificateSigned after a SignCertificate, CostUpdated) goes out from
a task started with `after_reply`, once the reply was sent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from devices.ocpp import v16, v201
from devices.ocpp.connection import CallTimeout, NotConnected, OcppCallError, OcppConnection
from devices.ocpp.routing import handles
from devices.ocpp.station_cost import send_cost, session_cost
from devices.ocpp.station_inbox import StationInbox

log = logging.getLogger(__name__)


def inbox_of(conn: OcppConnection) -> StationInbox:
    return conn.host.station  # type: ignore[attr-defined,no-any-return]


def sign_reply(conn: OcppConnection, csr: str, cert_type: str | None) -> dict[str, Any]:
    """Accept a CSR if ampshare has a CA; the signed chain goes out after the reply."""
    if inbox_of(conn).signer is None:
        return {"status": "Rejected"}
    conn.after_reply(lambda: conn.spawn(send_signed(conn, csr, cert_type)))
    return {"status": "Accepted"}


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


class _Progress:
    """Firmware and log transfer progress goes to the station desk (both versions)."""

    id: str

    def log_status(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        inbox_of(self).step(self.id, kind, str(p.get("status")), p)
        return {}


class StationV16(_Progress, v16.V16Connection):
    """1.6 connection plus the messages that answer station management actions."""

    @handles("SignCertificate")
    def on_sign_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        return sign_reply(self, str(p.get("csr") or ""), None)


class StationV201(_Progress, v201.V201Connection):
    """2.0.1 connection plus the messages that answer station management actions."""

    @handles("SignCertificate")
    def on_sign_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        kind = p.get("certificateType") or "ChargingStationCertificate"
        return sign_reply(self, str(p.get("csr") or ""), str(kind))

    async def on_transaction_event(self, p: dict[str, Any]) -> dict[str, Any]:
        tariff = inbox_of(self).tariff_per_kwh
        before = session_cost(self, p, tariff) if tariff is not None else None
        result = await super().on_transaction_event(p)
        if tariff is not None and p.get("eventType") == "Updated":
            self.after_reply(lambda: self._send_cost(p, tariff))
        if before is not None and p.get("eventType") == "Ended":
            sid, total = before
            result["totalCost"] = total
            fields = {"cost": total, "tariff_per_kwh": tariff}
            try:
                await asyncio.to_thread(self.host.hooks.sessions.annotate, sid, fields)
            except (ValueError, OSError) as exc:
                log.warning("%s: storing the cost of session %s failed: %s", self.id, sid, exc)
        return result

    def _send_cost(self, p: dict[str, Any], tariff: float) -> None:
        now = session_cost(self, p, tariff)
        if now is not None:
            tx = str(p["transactionInfo"]["transactionId"])
            self.spawn(send_cost(self, tx, now[1]))

    def on_report(self, p: dict[str, Any]) -> None:
        super().on_report(p)
        inbox_of(self).collect(self.id, "report", p)

    @handles("ReportChargingProfiles")
    def on_profiles(self, p: dict[str, Any]) -> dict[str, Any]:
        inbox_of(self).collect(self.id, "profiles", p)
        return {}

    @handles("NotifyDisplayMessages")
    def on_display(self, p: dict[str, Any]) -> dict[str, Any]:
        inbox_of(self).collect(self.id, "display", p)
        return {}

    @handles("ReservationStatusUpdate")
    def on_reservation(self, p: dict[str, Any]) -> dict[str, Any]:
        text = f"reservation {p.get('reservationId')}: {p.get('reservationUpdateStatus')}"
        log.info("%s: %s", self.id, text)
        self.event("reservation", f"{self.id}: {text}")
        ended = inbox_of(self).on_reservation_end
        if ended is not None and isinstance(p.get("reservationId"), int):
            ended(p["reservationId"])  # Expired or Removed: the wallbox is free again
        return {}

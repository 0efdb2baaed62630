"""Running cost for OCPP 2.0.1 boxes that can show it (TariffCost functional block).

With a fixed tariff per kWh, a box gets CostUpdated while a transaction runs (on each
TransactionEvent Updated that brings energy) and the total in the answer to TransactionEvent
Ended (`totalCost`); the total is also stored with the session.
"""

from __future__ import annotations

import logging
from typing import Any

from devices.ocpp.connection import OcppConnection
from devices.ocpp.meter import MeterFormatError, MeterSample, parse_meter_values
from devices.ocpp.state import ConnectorState

log = logging.getLogger(__name__)


def cost_of(energy_wh: float, tariff_per_kwh: float) -> float:
    return round(max(0.0, energy_wh) / 1000.0 * tariff_per_kwh, 2)


def _state(conn: OcppConnection, payload: dict[str, Any]) -> ConnectorState | None:
    tx = str((payload.get("transactionInfo") or {}).get("transactionId"))
    return next((s for s in conn.record.connectors.values() if s.transaction_id == tx), None)


def session_cost(
    conn: OcppConnection, payload: dict[str, Any], tariff_per_kwh: float
) -> tuple[int, float] | None:
    """(session id, cost so far) of the transaction this event belongs to, counting the energy
    register the event itself carries; None when it cannot be told."""
    state = _state(conn, payload)
    if state is None or state.session_id is None or state.meter_start_wh is None:
        return None
    try:
        sample = parse_meter_values(payload.get("meterValue") or [])
    except MeterFormatError:
        sample = MeterSample()
    now = sample.energy_wh if sample.energy_wh is not None else state.energy_wh
    if now is None:
        return None
    return state.session_id, cost_of(now - state.meter_start_wh, tariff_per_kwh)


async def send_cost(conn: OcppConnection, transaction_id: str, total: float) -> None:
    """CostUpdated (from a task: never from inside a handler)."""
    payload = {"totalCost": total, "transactionId": transaction_id}
    if await conn.try_request("CostUpdated", payload) is not None:
        log.debug("%s: cost of %s now %.2f", conn.id, transaction_id, total)

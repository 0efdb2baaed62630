"""Open sessions of a box after ampshare restarted: its running transactions carry on.

Session keys say which box and transaction they belong to: 1.6 `ocpp|<ChargeBox ID>|...` with
ampshare's own id as transaction id, 2.0.1 `<ChargeBox ID>|<transaction id>`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from devices.ocpp.state import ChargePointRecord, ConnectorLimit

log = logging.getLogger(__name__)


def _transaction_of(cb_id: str, row: Mapping[str, Any]) -> int | str | None:
    key = str(row.get("key") or "")
    if key.startswith(f"ocpp|{cb_id}|"):
        return int(row["id"])
    if key.startswith(f"{cb_id}|"):
        return key[len(cb_id) + 1 :]
    return None


def restore_sessions(record: ChargePointRecord, rows: Iterable[Mapping[str, Any]]) -> None:
    """Put the box's open sessions back on its connectors (tag, meter start, ids)."""
    for row in rows:
        tx = _transaction_of(record.id, row)
        connector = row.get("connector")
        if tx is None or not isinstance(connector, int):
            continue
        try:
            state = record.connector(connector)
        except ConnectorLimit:
            continue
        if state.transaction_id is not None:
            continue
        state.transaction_id, state.session_id = tx, int(row["id"])
        state.id_tag = row.get("id_tag")
        start = row.get("meter_start_wh")
        state.meter_start_wh = float(start) if isinstance(start, int | float) else None
        log.info("%s: session %s on connector %d carries on", record.id, row["id"], connector)

"""Pass-through of an OCPP box on ampshare's own server to the billing backend.

The backend sees what the box sent: its BootNotification, its status, its transactions and meter
values with signed meter data exactly as the box produced them. The only change is the one a
proxy must make: in 1.6 the box knows ampshare's transaction id, the backend its own, so a
relayed message carries the backend's id (looked up in the durable queue). Commands the
backend sends for the box (remote start/stop, unlock, DataTransfer) go to the box, and the
box's answer goes back.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from typing import Any

from manager.model import BoxObservation

log = logging.getLogger(__name__)

Message = tuple[str, dict[str, Any]]
_remote_ids = itertools.count(1)


class Relay:
    def __init__(self, server: Any, cb_id: str, connector: int) -> None:
        self.server = server
        self.cb_id = cb_id
        self.connector = connector
        self.boot: dict[str, Any] | None = None
        self.last_status: dict[str, Any] | None = None
        #: tags only ampshare's users table allowed: their sessions are not billed
        self.unbilled_tags: set[str] = set()
        self.unbilled_tx: set[str] = set()

    def protocol(self) -> str | None:
        rec = self.server.record(self.cb_id)
        return rec.protocol if rec is not None else None

    def ident(self) -> dict[str, Any]:
        rec = self.server.record(self.cb_id)
        ident: dict[str, Any] = {"raw": self.boot}
        if rec is not None:
            ident.update(vendor=rec.vendor, model=rec.model, serial=rec.serial,
                         firmware=rec.firmware)  # fmt: skip
        return ident

    # ------------------------------------------------------------------ status

    def status_word(self, obs: BoxObservation | None) -> tuple[str, str | None]:
        if obs is not None and not obs.enabled:
            return "Unavailable", None
        if obs is not None and not obs.online:
            return "Faulted", "box not connected"
        if self.unbilled_tx:
            return "Unavailable", "local session"
        return "box", json.dumps(self.last_status, sort_keys=True)

    def status_message(self, word: tuple[str, str | None], msgs: Any) -> Message | None:
        if word[0] == "box":
            return ("StatusNotification", self.last_status) if self.last_status else None
        return msgs.status(self.connector, word[0], word[1], time.time())

    # ------------------------------------------------------------------ from the box

    def _mine(self, payload: dict[str, Any]) -> bool:
        n = payload.get("connectorId", payload.get("evseId"))
        if n is None and isinstance(payload.get("evse"), dict):
            n = payload["evse"].get("id")
        return n is None or n == self.connector

    def queued(
        self, action: str, payload: dict[str, Any], local_tx: Any
    ) -> list[tuple[Message, str | None, bool]]:
        """What to relay: (message, transaction key, durable?) — durable ones are queued."""
        if action == "BootNotification":
            self.boot = payload
            return []
        if not self._mine(payload):
            return []
        if action == "StatusNotification":
            self.last_status = payload
            return []
        if self._unbilled(action, payload, local_tx):
            return []
        if action == "StartTransaction":
            return [((action, payload), f"box{local_tx}", True)]
        if action == "StopTransaction":
            return [((action, payload), f"box{payload.get('transactionId')}", True)]
        if action == "TransactionEvent":
            return [((action, payload), None, True)]
        if action == "MeterValues":
            tx = payload.get("transactionId")
            return [((action, payload), None if tx is None else f"box{tx}", tx is not None)]
        return []

    def _unbilled(self, action: str, payload: dict[str, Any], local_tx: Any) -> bool:
        """A session of a tag the backend did not accept (local user): nothing is relayed."""
        if action == "StartTransaction" and payload.get("idTag") in self.unbilled_tags:
            self.unbilled_tx.add(f"box{local_tx}")
            return True
        token = (payload.get("idToken") or {}).get("idToken")
        tx = payload.get("transactionId") or (payload.get("transactionInfo") or {}).get(
            "transactionId"
        )
        key = f"box{tx}"
        if action == "TransactionEvent" and token in self.unbilled_tags:
            self.unbilled_tx.add(key)
        if key not in self.unbilled_tx:
            return False
        if action == "StopTransaction" or payload.get("eventType") == "Ended":
            self.unbilled_tx.discard(key)
        return True

    # ------------------------------------------------------------------ to the box

    async def command(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        conn = self.server.connection(self.cb_id)
        if conn is None:
            return None
        try:
            return dict(await conn.request(action, payload))
        except Exception as exc:
            log.info("%s: relaying %s to the box failed: %s", self.cb_id, action, exc)
            return None

    async def remote_start(self, tag: str, profile: dict[str, Any] | None) -> str:
        if self.protocol() == "2.0.1":
            payload: dict[str, Any] = {
                "idToken": {"idToken": tag, "type": "ISO14443"},
                "remoteStartId": next(_remote_ids),
                "evseId": self.connector,
            }
            action = "RequestStartTransaction"
        else:
            payload = {"idTag": tag, "connectorId": self.connector}
            action = "RemoteStartTransaction"
        if profile is not None:
            payload["chargingProfile"] = profile
        reply = await self.command(action, payload)
        return str((reply or {}).get("status") or "Rejected")

    async def remote_stop(self, backend_tx: Any, tx_ids: dict[str, Any]) -> str:
        if self.protocol() == "2.0.1":
            reply = await self.command("RequestStopTransaction", {"transactionId": backend_tx})
            return str((reply or {}).get("status") or "Rejected")
        local = next((k[3:] for k, v in tx_ids.items() if v == backend_tx and k[:3] == "box"), None)
        if local is None or not local.isdigit():
            return "Rejected"
        reply = await self.command("RemoteStopTransaction", {"transactionId": int(local)})
        return str((reply or {}).get("status") or "Rejected")

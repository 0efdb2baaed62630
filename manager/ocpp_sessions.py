"""The session recorder the OCPP server gets (handed to it by the composition root).

Sessions are filed under the configured wallbox (not the ChargeBox ID) and name the user of
the RFID tag and how the tag was authorized, like every other session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manager.configstore import ConfigStore
from manager.sessions import SessionStore
from manager.tagdesk import TagDesk


class OcppSessions:
    """The session recorder the OCPP server gets: files sessions under the configured device
    (not the ChargeBox ID) and names the user of the RFID tag, like every other session."""

    def __init__(self, sessions: SessionStore, store: ConfigStore, desk: TagDesk) -> None:
        self.sessions = sessions
        self.store = store
        self.desk = desk

    def start(
        self,
        evse: str,
        connector: int,
        id_tag: str | None,
        started_at: str,
        meter_start_wh: float | None,
        *,
        key: str | None = None,
        user: str | None = None,
        box: str | None = None,
    ) -> int:
        # the key stays on the ChargeBox ID, so a start resent after the box was added as a
        # device is still the same session
        key = key or f"ocpp|{evse}|{connector}|{id_tag}|{started_at}|{meter_start_wh}"
        device = next(
            (
                d
                for d in self.store.devices()
                if d.get("driver") == "ocpp"
                and d.get("address") == evse
                and int(d.get("connector_id", 1)) == connector
            ),
            None,
        )
        method, result = None, None
        if device is not None:
            evse, box = str(device["id"]), str(device["name"])
            method, result = self.desk.method_of(evse, id_tag)
            verdict = self.desk.recent.get((evse, id_tag or ""))
            if user is None and verdict is not None and verdict.user is not None:
                user = verdict.user.name
        if user is None and id_tag:
            owner = self.desk.auth.users.by_tag(id_tag)
            user = owner.name if owner else None
        return self.sessions.start(
            evse, connector, id_tag, started_at, meter_start_wh, key=key, user=user, box=box,
            method=method, result=result,
        )  # fmt: skip

    def stop(
        self,
        transaction_id: int,
        stopped_at: str,
        meter_stop_wh: float | None,
        reason: str | None = None,
        signed_data: list[object] | None = None,
        *,
        meter_start_wh: float | None = None,
    ) -> Mapping[str, object] | None:
        return self.sessions.stop(
            transaction_id,
            stopped_at,
            meter_stop_wh,
            reason,
            signed_data,
            meter_start_wh=meter_start_wh,
        )

    def find(self, key: str) -> int | None:
        return self.sessions.find(key)

    def open_sessions(self) -> list[dict[str, Any]]:
        return self.sessions.open_sessions()

    def annotate(self, transaction_id: int, fields: Mapping[str, Any]) -> None:
        self.sessions.annotate(transaction_id, fields)

"""Authorization through the billing backend: rejected tags, the per-box fallback, the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gateway_backend import Backend
from manager_process import ManagerProcess

pytestmark = pytest.mark.slow


def box(backend: Backend, dev_id: str, client_id: str, user: str, fallback: str) -> dict[str, Any]:
    return {
        "kind": "evse", "driver": "sim-evse", "id": dev_id, "name": dev_id, "car": "3p16",
        "user": user, "gateway_url": backend.url, "gateway_client_id": client_id,
        "gateway_password": backend.cfg["password"], "gateway_auth_fallback": fallback,
    }  # fmt: skip


def evse(state: dict[str, Any], dev_id: str) -> dict[str, Any]:
    found = [e for e in state["evses"] if e["id"] == dev_id]
    return found[0] if found else {"reason": "", "setpoint_a": 0, "gateway": None}


def test_rejected_tags_follow_the_fallback_and_accepted_tags_work_offline(tmp_path: Path) -> None:
    backend = Backend(rejectTags=["BADTAG", "STAFF1"])
    mgr = ManagerProcess("serve", data_dir=tmp_path / "data")
    try:
        mgr.wait_ready()
        assert mgr.api.post("/api/users", json={"name": "Staff", "id_tag": "STAFF1"}).status_code
        for device in (
            box(backend, "refused", "GWREF", "BADTAG", "refuse"),
            box(backend, "staff", "GWSTAFF", "STAFF1", "local"),
            box(backend, "good", "GWGOOD", "GOODTAG", "refuse"),
            box(backend, "anyone", "GWANY", "BADTAG", "anyone"),
        ):
            assert mgr.api.post("/api/devices", json=device).status_code == 201
        backend.wait("call", method="StartTransaction", identity="GWGOOD")
        state = mgr.wait_for(
            lambda s: (
                evse(s, "refused")["reason"] == "stopped by the billing backend"
                and evse(s, "staff")["setpoint_a"] > 0
                and evse(s, "good")["setpoint_a"] > 0
            )
        )
        assert evse(state, "refused")["setpoint_a"] == 0
        # the local user charges, unbilled: Unavailable at the backend, and no transaction
        backend.wait_until(
            lambda: any(
                c["params"]["status"] == "Unavailable"
                for c in backend.calls("StatusNotification")
                if c["identity"] == "GWSTAFF"
            )
        )
        backend.wait("call", method="StartTransaction", identity="GWANY")  # anyone: reported
        starts = {c["identity"] for c in backend.calls("StartTransaction")}
        assert starts == {"GWGOOD", "GWANY"}
        log = mgr.api.get("/api/events/log").json()
        kinds = {(e["kind"], e.get("device")) for e in log}
        assert ("gateway_tag_rejected", "refused") in kinds
        assert ("gateway_connected", "good") in kinds

        # a known tag still works while the backend is away (from the cache)
        backend.kill()
        mgr.wait_for(lambda s: evse(s, "good")["gateway"]["connected"] is False)
        assert mgr.api.patch("/api/devices/good", json={"car": "none"}).status_code == 200
        mgr.wait_for(lambda s: evse(s, "good")["gateway"]["queued"] >= 1)  # the Stop
        assert mgr.api.patch("/api/devices/good", json={"car": "3p16"}).status_code == 200
        # the Start of the new session is queued: the cached tag was valid
        state = mgr.wait_for(lambda s: evse(s, "good")["gateway"]["queued"] >= 2)
        assert "billing backend" not in evse(state, "good")["reason"]
        kinds = {(e["kind"], e.get("device")) for e in mgr.api.get("/api/events/log").json()}
        assert ("gateway_disconnected", "good") in kinds
    finally:
        mgr.stop()
        backend.stop()

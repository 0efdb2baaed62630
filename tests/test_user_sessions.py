"""Sessions record who charged how: user, tag, method, result, box, energy from the meter
register and signed data unchanged; filters by user, box and month; totals, CSV per user and
month, and the signed data export. Real OCPP client, the real app over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call as call16
from ports import free_port
from test_ocpp_support import connect

from manager.app import Manager, Options, build_manager
from web.app import create_app

PASSWORD = "admin-pw-123"
SIGNED_1 = (
    'OCMF|{"FV":"1.0","RD":[{"TM":"2026-01-01T10:00:00,000+0000 S","RV":"1.000"}]}|{"SD":"3045"}'
)
SIGNED_2 = (
    'OCMF|{"FV":"1.0","RD":[{"TM":"2026-01-01T10:30:00,000+0000 S","RV":"3.500"}]}|{"SD":"3046"}'
)


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[Manager]:
    m = build_manager(Options(data_dir=tmp_path, host="127.0.0.1", ocpp_port=free_port()))
    m.service.set_admin_password_now(PASSWORD)
    await m.start()
    try:
        yield m
    finally:
        await m.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _signed(value: str, context: str) -> dict[str, str]:
    return {"value": value, "format": "SignedData", "context": context,
            "measurand": "Energy.Active.Import.Register"}  # fmt: skip


async def _charge(box: object, tag: str, start: int, stop: int, signed: bool) -> int:
    res = await box.call(  # type: ignore[attr-defined]
        call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=start, timestamp=_now())
    )
    tx = res.transaction_id
    if signed:
        await box.call(  # type: ignore[attr-defined]
            call16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                {"timestamp": _now(), "sampled_value": [_signed(SIGNED_1, "Transaction.Begin")]}
            ])
        )  # fmt: skip
    data = [{"timestamp": _now(), "sampled_value": [_signed(SIGNED_2, "Transaction.End")]}]
    await box.call(  # type: ignore[attr-defined]
        call16.StopTransaction(
            transaction_id=tx, meter_stop=stop, timestamp=_now(), id_tag=tag,
            transaction_data=data if signed else None,
        )
    )  # fmt: skip
    return int(tx)


async def test_sessions_per_user_and_month_with_signed_data(manager: Manager) -> None:
    svc = manager.service
    await svc.create_user({"name": "Anna", "tags": ["ANNA"]})
    await svc.create_user({"name": "Ben", "tags": ["BEN"]})
    await svc.create_device(
        {"kind": "evse", "driver": "ocpp", "id": "s16", "name": "Garage", "address": "S16",
         "authorization": "local"}
    )  # fmt: skip
    async with connect(manager.ocpp.port, "S16") as box:
        await box.call(call16.Authorize(id_tag="ANNA"))
        await _charge(box, "ANNA", 1000, 3500, signed=True)
        await box.call(call16.Authorize(id_tag="BEN"))
        await _charge(box, "BEN", 3500, 5500, signed=False)
        await box.call(call16.Authorize(id_tag="NOBODY"))

    month = datetime.now(UTC).strftime("%Y-%m")  # (a test across midnight of a month's end
    transport = httpx.ASGITransport(app=create_app(svc))  # would see two months)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", auth=("admin", PASSWORD)
    ) as api:
        anna = (await api.get("/api/sessions", params={"user": "Anna"})).json()
        assert len(anna) == 1
        row = anna[0]
        assert (row["user"], row["id_tag"], row["method"], row["result"], row["evse"]) == (
            "Anna", "ANNA", "local", "Accepted", "s16")  # fmt: skip
        assert row["energy_wh"] == 2500.0  # from the box's meter register
        assert [s["value"] for s in row["signed_data"]] == [SIGNED_1, SIGNED_2]
        assert row["signed_data"][0] == _signed(SIGNED_1, "Transaction.Begin")  # unchanged
        assert len((await api.get("/api/sessions", params={"month": month})).json()) == 2
        assert (await api.get("/api/sessions", params={"month": "2001-01"})).json() == []
        assert len((await api.get("/api/sessions", params={"evse": "s16"})).json()) == 2
        bad = await api.get("/api/sessions", params={"month": "May"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "month"

        totals = (await api.get("/api/sessions/totals", params={"month": month})).json()
        assert {(t["user"], t["sessions"], t["energy_kwh"]) for t in totals} == {
            ("Anna", 1, 2.5), ("Ben", 1, 2.0)}  # fmt: skip

        csv = await api.get("/api/sessions.csv", params={"user": "Anna", "month": month})
        assert f"ampshare-sessions-Anna-{month}.csv" in csv.headers["content-disposition"]
        lines = csv.text.strip().splitlines()
        assert len(lines) == 2 and "ANNA" in lines[1] and "local" in lines[1]

        signed = await api.get("/api/sessions/signed", params={"user": "Anna"})
        assert signed.text == f"{SIGNED_1}\n{SIGNED_2}\n"
        assert "ampshare-signed-Anna" in signed.headers["content-disposition"]

        events = (await api.get("/api/events/log")).json()
        refused = [e for e in events if e["kind"] == "tag_refused"]
        want = {"tag": "NOBODY", "box": "s16", "status": "Invalid", "reason": "unknown_tag"}
        assert refused and refused[0]["params"] == want

        for lang, word in (("en", "Totals per user and month"), ("de", "Summen je Benutzer")):
            api.cookies.set("lang", lang)
            page = await api.get("/sessions", params={"month": month})
            assert page.status_code == 200 and word in page.text

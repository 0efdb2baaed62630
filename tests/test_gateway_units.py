"""The gateway's parts on their own: journal, backend settings, profiles, backoff."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from devices.ocpp.gateway_config import BackendConfig
from devices.ocpp.gateway_link import BACKOFF_MAX_S, backoff
from devices.ocpp.gateway_profiles import composite, limit_at, matches_clear, parse_profile
from devices.ocpp.gateway_queue import GatewayQueue


def test_queue_survives_a_restart_in_order_with_transaction_ids(tmp_path: Path) -> None:
    path = tmp_path / "q" / "queue.jsonl"
    q = GatewayQueue.open(path)
    start = q.add("StartTransaction", {"meterStart": 1}, "t1")
    q.add("MeterValues", {"meterValue": [{"v": "2"}]}, "t1")
    q.add("StopTransaction", {"meterStop": 3}, "t1")
    q.set_tx_id("t1", 4711)
    q.done(start)
    q.save_state({"tx": None, "clean": True})
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"op": "add", "n": 9, "act')  # a crash in the middle of a line
    again = GatewayQueue.open(path)
    assert [e.action for e in again.entries.values()] == ["MeterValues", "StopTransaction"]
    assert again.tx_ids == {"t1": 4711} and again.state == {"tx": None, "clean": True}
    for entry in list(again.entries.values()):
        again.done(entry)
    again.forget_tx("t1")
    assert GatewayQueue.open(path).entries == {} and GatewayQueue.open(path).tx_ids == {}
    nxt = GatewayQueue.open(path).add("MeterValues", {}, None)
    assert nxt.seq > 3  # numbering never restarts


def test_backend_config_keys_are_checked_and_kept(tmp_path: Path) -> None:
    cfg = BackendConfig.load(tmp_path / "backend.json")
    assert cfg.change("MeterValueSampleInterval", "15") == "Accepted"
    assert cfg.change("MeterValueSampleInterval", "soon") == "Rejected"
    assert cfg.change("MeterValuesSampledData", "Voltage,SoC") == "Rejected"
    assert cfg.change("MeterValuesSampledData", "Voltage, Current.Import") == "Accepted"
    assert cfg.change("NumberOfConnectors", "2") == "Rejected"
    assert cfg.change("NoSuchKey", "1") == "NotSupported"
    cfg.remember_tag("CARD", 0.0)
    cfg.remember_tag("OLD", 1.0)
    again = BackendConfig.load(tmp_path / "backend.json")
    assert again.keys["MeterValueSampleInterval"] == "15"
    assert again.measurands() == ["Voltage", "Current.Import"]
    assert again.cached("CARD") and not again.cached("OLD") and not again.cached("NEW")


def _profile(pid: int, purpose: str, stack: int, limit: float, **extra: object) -> dict:
    periods = extra.pop("periods", [{"startPeriod": 0, "limit": limit}])
    sched = {"chargingRateUnit": extra.pop("unit", "A"), "startSchedule": "2026-01-01T00:00:00Z",
             "chargingSchedulePeriod": periods}  # fmt: skip
    return {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", "chargingSchedule": sched, **extra}  # fmt: skip


def test_composite_limit_follows_ocpp_rules() -> None:
    t = 1_800_000_000.0  # 2027
    cp_max = parse_profile("1.6", 0, _profile(1, "ChargePointMaxProfile", 0, 20))
    default_low = parse_profile("1.6", 0, _profile(2, "TxDefaultProfile", 0, 10))
    default_high = parse_profile("1.6", 0, _profile(3, "TxDefaultProfile", 2, 13))
    tx = parse_profile("1.6", 1, _profile(4, "TxProfile", 0, 6, transactionId=99))
    watts = parse_profile("1.6", 0, _profile(5, "ChargePointMaxProfile", 1, 4140, unit="W"))
    assert limit_at([], t, None, None, 3) is None
    assert limit_at([cp_max], t, None, None, 3) == 20
    assert limit_at([cp_max, default_low, default_high], t, None, None, 3) == 13
    assert limit_at([cp_max, default_high, tx], t, 99, None, 3) == 6  # TxProfile wins
    assert limit_at([cp_max, default_high, tx], t, 98, None, 3) == 13  # other transaction
    assert limit_at([cp_max, watts], t, None, None, 3) == 4140 / 230 / 3  # higher stack level
    remote = parse_profile(
        "1.6", 1, _profile(6, "TxProfile", 0, 7)
    )  # came with a remote start: no id
    assert limit_at([cp_max, default_high, remote], t, 1234, None, 3) == 7
    assert limit_at([cp_max, default_high, remote], t, None, None, 3) == 13  # no transaction
    assert matches_clear(tx, {"id": None, "purpose": "TxProfile"})
    assert not matches_clear(tx, {"id": 3})


def test_composite_schedule_has_a_period_per_change() -> None:
    t0 = 1_800_000_000.0
    steps = [{"startPeriod": 0, "limit": 16}, {"startPeriod": 600, "limit": 8}]
    raw = _profile(1, "ChargePointMaxProfile", 0, 0, periods=steps)
    stepped = replace(parse_profile("1.6", 0, raw), start=t0)
    periods = composite([stepped], t0, 1200, None, None, 3, 32.0)
    assert periods == [{"startPeriod": 0, "limit": 16.0}, {"startPeriod": 600, "limit": 8.0}]
    later = composite([stepped], t0 + 900, 600, None, None, 3, 32.0)
    assert later == [{"startPeriod": 0, "limit": 8.0}]
    assert composite([], t0, 60, None, None, 3, 32.0) == [{"startPeriod": 0, "limit": 32.0}]


def test_backoff_grows_with_jitter_and_stays_bounded() -> None:
    rng = random.Random(4)
    first = [backoff(0, rng) for _ in range(50)]
    late = [backoff(12, rng) for _ in range(50)]
    assert all(0.5 <= d <= 1.0 for d in first)
    assert all(BACKOFF_MAX_S / 2 <= d <= BACKOFF_MAX_S for d in late)
    assert len(set(late)) > 40  # jitter: reconnects of many boxes spread out


def test_an_authorize_is_sent_in_the_backends_version() -> None:
    """The tag desk asks with a 1.6 `idTag`; a 2.0.1 backend must get an `idToken`, and a
    box's own Authorize in the backend's version is relayed as sent."""
    from devices.ocpp import gateway_v16, gateway_v201
    from devices.ocpp.gateway_commands import in_backend_version

    v201 = in_backend_version(gateway_v201.Messages, "04A1", {"idTag": "04A1"})
    assert v201["idToken"]["idToken"] == "04A1" and "idTag" not in v201
    own = {"idToken": {"idToken": "04A1", "type": "ISO14443"}, "certificate": "x"}
    assert in_backend_version(gateway_v201.Messages, "04A1", own) is own
    assert in_backend_version(gateway_v16.Messages, "04A1", own) == {"idTag": "04A1"}

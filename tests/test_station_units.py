"""Station management pieces on their own: one-time links, secrets kept out of the audit log,
reservations, the local CA's refusals, parameter checks, the profile chart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clock import Clock

from devices.ocpp.station_ca import LocalCA
from devices.ocpp.station_params import BadParams, check, fields
from manager.audit import AuditLog
from manager.reservations import Reservations
from manager.stations import redact
from manager.transfers import TOKEN_TTL_S, TransferError, Transfers
from web.station_view import chart, composite_rows, config_rows


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_links_work_once_and_expire(tmp_path: Path) -> None:
    clock = Clock(1_000_000.0)
    transfers = Transfers(tmp_path, clock=clock)
    fw = await transfers.store_firmware("../../etc/passwd", chunks(b"abc", b"def"))
    assert "/" not in fw["id"] and fw["size"] == 6
    token = transfers.ticket("download", "BOX", fw["id"])
    transfers.check_download(token)  # a HEAD probe does not use it up
    assert transfers.take_download(token).read_bytes() == b"abcdef"
    with pytest.raises(TransferError) as err:
        transfers.take_download(token)
    assert err.value.status == 404
    late = transfers.ticket("upload", "BOX")
    clock.t += TOKEN_TTL_S + 1
    with pytest.raises(TransferError):
        await transfers.receive_upload(late, "log.txt", chunks(b"x"))
    wrong_kind = transfers.ticket("upload", "BOX")
    with pytest.raises(TransferError):
        transfers.take_download(wrong_kind)
    assert transfers.log_file("../config.json") is None
    assert transfers.firmware_file(fw["id"]) is not None


async def test_too_large_upload_leaves_nothing(tmp_path: Path) -> None:
    transfers = Transfers(tmp_path)
    token = transfers.ticket("upload", "BOX")
    big = bytes(1024 * 1024)
    with pytest.raises(TransferError) as err:
        await transfers.receive_upload(token, "log.txt", chunks(*[big] * 65))
    assert err.value.status == 413
    assert not list((tmp_path / "logs").iterdir())


def test_secrets_stay_out_of_the_audit_log(tmp_path: Path) -> None:
    request = {"key": "AuthorizationKey", "value": "0011223344556677"}
    assert redact(request) == {"key": "AuthorizationKey", "value": "***"}
    answer = {
        "configurationKey": [
            {"key": "AuthorizationKey", "value": "secret", "readonly": False},
            {"key": "HeartbeatInterval", "value": "300", "readonly": False},
        ],
        "reportData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
             "variableAttribute": [{"value": "pw"}]},
        ],
    }  # fmt: skip
    clean = redact(answer)
    assert clean["configurationKey"][0]["value"] == "***"
    assert clean["configurationKey"][1]["value"] == "300"
    assert clean["reportData"][0]["variableAttribute"] == "***"
    audit = AuditLog(tmp_path)
    audit.record("admin", "BOX", "configure", redact(request), "Accepted", {})
    assert (
        "0011223344556677"
        not in (tmp_path / "audit")
        .joinpath(next(p.name for p in (tmp_path / "audit").iterdir()))
        .read_text()
    )
    audit.close()


def test_reservation_holds_until_expiry_or_its_user() -> None:
    clock = Clock(1_000_000.0)
    held = Reservations(clock=clock)
    held.add("wb1", 5, "ALICE", clock.t + 600)
    reason = held.holding("wb1", None)
    assert reason is not None and reason.code == "reserved"
    assert reason.params["reservation_id"] == 5
    assert held.holding("wb1", "BOB") is not None  # someone else's car: still kept free
    assert held.holding("wb1", "ALICE") is None  # its user arrived
    held.add("wb1", 6, "ALICE", clock.t + 600)
    clock.t += 601
    assert held.holding("wb1", None) is None
    held.add("wb2", 7, "X", clock.t + 600)
    assert held.cancel(7) and not held.cancel(7)


def test_local_ca_refuses_garbage_and_other_names(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "ca")
    with pytest.raises(ValueError):
        ca.sign("BOX", "")
    with pytest.raises(ValueError):
        ca.sign(
            "BOX", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"
        )
    assert "BEGIN CERTIFICATE" in ca.certificate_pem()  # created on first use
    assert oct((tmp_path / "ca" / "ca.key").stat().st_mode & 0o777) == "0o600"


def test_every_parameter_mistake_at_once() -> None:
    with pytest.raises(BadParams) as err:
        check({"minutes": 0, "id_tag": "x" * 21, "connector_id": True, "extra": 1},
              fields("reserve", "1.6"))  # fmt: skip
    assert sorted(e["field"] for e in err.value.errors) == [
        "connector_id",
        "extra",
        "id_tag",
        "minutes",
    ]
    assert (
        check({"id_tag": "x" * 36, "connector_id": 1}, fields("reserve", "2.0.1"))["minutes"] == 30
    )
    with pytest.raises(BadParams):
        check([], fields("reset", "1.6"))


def test_profile_chart_and_config_rows() -> None:
    payload = {
        "composite": {
            "1": {"status": "Accepted", "chargingSchedule": {"chargingRateUnit": "A",
                  "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0},
                                             {"startPeriod": 1800, "limit": 16.0}]}},
            "2": {"status": "Rejected"},
        }
    }  # fmt: skip
    rows = composite_rows(payload)
    svg = chart(rows, "none")
    assert svg.count("<polyline") == 1 and "6 A" in svg
    assert "none" in chart([r for r in rows if not r["periods"]], "none")
    assert config_rows("1.6", {"configurationKey": [{"key": "K", "readonly": True}]}) == [
        {"key": "K", "value": "", "readonly": True}
    ]


def test_every_tenth_of_an_ampere_passes_the_16_profile_schema() -> None:
    """SetChargingProfile's limit is `multipleOf 0.1`; as floats about a third of the tenths
    (0.3, 0.6, 1.2, ...) fail that check, so the station desk checks 1.6 limits as decimals,
    like the server does."""
    from devices.ocpp.station_params import check_payload

    for tenth in range(0, 801):
        period = {"startPeriod": 0, "limit": round(tenth * 0.1, 1)}
        profile = {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 7,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [period]},
            },
        }
        check_payload("SetChargingProfile", "1.6", profile)  # raises BadParams if refused

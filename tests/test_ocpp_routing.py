"""The OCPP routing pieces on their own: route tables, schema checks, the one profile builder."""

from __future__ import annotations

from typing import Any

import pytest

from devices.ocpp.errors import BadMessage
from devices.ocpp.profiles import clear_profile_request, set_profile_request, status_reason
from devices.ocpp.routing import check, compact, handles, route_table
from devices.ocpp.station_routes import StationV16, StationV201


class _Base:
    @handles("Authorize")
    def authorize(self, p: dict[str, Any]) -> dict[str, Any]:
        return {}

    @handles("BootNotification", strict=False)
    def boot(self, p: dict[str, Any]) -> dict[str, Any]:
        return {}


class _Sub(_Base):
    def authorize(self, p: dict[str, Any]) -> dict[str, Any]:  # same name: same route
        return {"sub": True}

    @handles("RemoteStartTransaction")
    @handles("RequestStartTransaction")
    def start(self, p: dict[str, Any]) -> dict[str, Any]:
        return {}


def test_route_table_follows_overrides_and_stacked_marks() -> None:
    table = route_table(_Sub)
    assert table["Authorize"] == ("authorize", True)
    assert table["BootNotification"] == ("boot", False)
    assert table["RemoteStartTransaction"] == table["RequestStartTransaction"] == ("start", True)
    assert getattr(_Sub(), table["Authorize"][0])({}) == {"sub": True}


def test_both_versions_route_what_they_did_with_the_library() -> None:
    v16 = set(StationV16.ROUTES)
    v201 = set(StationV201.ROUTES)
    both = {"BootNotification", "Authorize", "DataTransfer", "SignCertificate"}
    assert both | {"StartTransaction", "StopTransaction", "DiagnosticsStatusNotification"} <= v16
    assert both | {"TransactionEvent", "NotifyReport", "NotifyDisplayMessages"} <= v201
    assert "TransactionEvent" not in v16 and "StartTransaction" not in v201
    for hot in ("Heartbeat", "StatusNotification", "MeterValues"):  # the fast path's
        assert hot not in v16 and hot not in v201


@pytest.mark.parametrize(
    ("version", "action", "payload", "code"),
    [
        ("1.6", "StartTransaction", {"connectorId": 1}, "ProtocolError"),
        ("1.6", "Authorize", {"idTag": 5}, "TypeConstraintViolation"),
        ("1.6", "Authorize", {"idTag": "x" * 21}, "TypeConstraintViolation"),
        ("1.6", "Authorize", {"idTag": "A", "extra": 1}, "FormatViolation"),
        ("2.0.1", "TransactionEvent", {"eventType": "Started"}, "ProtocolError"),
        ("2.0.1", "Authorize", {"idToken": {"idToken": "A", "type": "Nope"}}, "FormatViolation"),
    ],
)
def test_schema_errors_get_the_library_codes(
    version: str, action: str, payload: dict[str, Any], code: str
) -> None:
    with pytest.raises(BadMessage) as caught:
        check(version, action, payload)
    assert caught.value.code == code


def test_a_wrong_reply_of_ours_is_an_internal_error() -> None:
    with pytest.raises(BadMessage) as caught:
        check("1.6", "Authorize", {"idTagInfo": {"status": "Maybe"}}, reply=True)
    assert caught.value.code == "InternalError"
    check("1.6", "Authorize", {"idTagInfo": {"status": "Accepted"}}, reply=True)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("purpose", ["TxDefaultProfile", "TxProfile", "ChargePointMaxProfile"])
def test_one_profile_builder_makes_valid_requests_for_both_versions(
    version: str, relative: bool, purpose: str
) -> None:
    connector = 0 if purpose == "ChargePointMaxProfile" else 1
    payload = set_profile_request(
        version, connector, 7.3, "A", 1, profile_id=19521, purpose=purpose,
        stack_level=1, relative=relative, transaction_id=42,
    )  # fmt: skip
    check(version, "SetChargingProfile", payload)  # 7.3 is a multiple of 0.1 (decimals)
    profile = payload["chargingProfile" if version == "2.0.1" else "csChargingProfiles"]
    if version == "2.0.1":
        assert profile["id"] == 19521 and profile["chargingSchedule"][0]["id"] == 19521
        if purpose == "ChargePointMaxProfile":
            assert profile["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert ("transactionId" in profile) == (purpose == "TxProfile")
    check(version, "ClearChargingProfile", clear_profile_request(version, 19521))


def test_status_reason_and_compact() -> None:
    assert status_reason({"status": "Rejected"}) is None
    info = {"statusInfo": {"reasonCode": "InvalidSchedule", "additionalInfo": "too low"}}
    assert status_reason(info) == "InvalidSchedule too low"
    assert compact({"a": None, "b": [{"c": None, "d": 1}]}) == {"b": [{"d": 1}]}

"""ampshare's charging profiles as the two OCPP versions spell them.

One `SetChargingProfile` builder for 1.6 and 2.0.1: the profile is the same idea in both (one
period from now, A with one decimal or W, optional number of phases), only field names and
nesting differ. The connection's `set_limit`/`clear_profile` use these for either version.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

#: 1.6 purpose names ampshare uses internally, as 2.0.1 calls them
_PURPOSES_201 = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}


def schedule_start() -> str:
    """Start of an Absolute schedule: a minute ago, so the box applies it at once."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    return start.isoformat().replace("+00:00", "Z")


def set_profile_request(
    version: str,
    connector: int,
    limit: float,
    unit: str,
    phases: int | None,
    *,
    profile_id: int,
    purpose: str,
    stack_level: int,
    relative: bool,
    transaction_id: int | str | None = None,
) -> dict[str, Any]:
    """The SetChargingProfile payload that installs (replaces) profile `profile_id`."""
    v201 = version == "2.0.1"
    period: dict[str, Any] = {"startPeriod": 0, "limit": round(float(limit), 1)}
    if phases in (1, 2, 3):
        period["numberPhases"] = phases
    schedule: dict[str, Any] = {"id": profile_id} if v201 else {}
    schedule |= {"chargingRateUnit": unit, "chargingSchedulePeriod": [period]}
    if not relative:
        schedule["startSchedule"] = schedule_start()
    profile: dict[str, Any] = {
        "id" if v201 else "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": _PURPOSES_201.get(purpose, purpose) if v201 else purpose,
        "chargingProfileKind": "Relative" if relative else "Absolute",
        "chargingSchedule": [schedule] if v201 else schedule,
    }
    if purpose == "TxProfile":
        profile["transactionId"] = str(transaction_id) if v201 else transaction_id
    if v201:
        return {"evseId": connector, "chargingProfile": profile}
    return {"connectorId": connector, "csChargingProfiles": profile}


def clear_profile_request(version: str, profile_id: int) -> dict[str, Any]:
    return {"chargingProfileId": profile_id} if version == "2.0.1" else {"id": profile_id}


def status_reason(reply: dict[str, Any]) -> str | None:
    """2.0.1 `statusInfo` as one line (1.6 has none)."""
    info = reply.get("statusInfo")
    if not isinstance(info, dict):
        return None
    words = (info.get("reasonCode"), info.get("additionalInfo"))
    return " ".join(str(v) for v in words if v) or None

"""Reports over stored sessions: totals per user and month, per day, month, box or user, and
the signed meter data as the boxes sent it (for a transparency verifier). Pure functions over
session rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from manager.sessions import parse_time


def month_of(row: Mapping[str, Any]) -> str:
    return str(row.get("started_at") or "")[:7]


def totals(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per user (or tag) and month: sessions and energy, newest month first."""
    sums: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        who = str(r.get("user") or r.get("id_tag") or "")
        key = (month_of(r), who)
        entry = sums.setdefault(key, {"month": key[0], "user": who or None, "sessions": 0,
                                      "energy_kwh": 0.0})  # fmt: skip
        entry["sessions"] += 1
        entry["energy_kwh"] += float(r.get("energy_wh") or 0.0) / 1000.0
    out = sorted(sums.values(), key=lambda e: (e["month"], e["user"] or ""))
    out.sort(key=lambda e: e["month"], reverse=True)
    for e in out:
        e["energy_kwh"] = round(e["energy_kwh"], 3)
    return out


def signed_values(row: Mapping[str, Any]) -> list[str]:
    """The signed meter data of one session exactly as the box sent it: 1.6 SignedData values
    (OCMF strings) and 2.0.1 signedMeterValue.signedMeterData."""
    out: list[str] = []
    for item in row.get("signed_data") or []:
        if not isinstance(item, Mapping):
            continue
        value = item.get("value")
        if isinstance(value, Mapping):  # 2.0.1: the sampled value carries signedMeterValue
            value = value.get("signedMeterData")
        signed = item.get("signedMeterValue")
        if value is None and isinstance(signed, Mapping):
            value = signed.get("signedMeterData")
        if isinstance(value, str) and value:
            out.append(value)
    return out


def signed_export(rows: Iterable[Mapping[str, Any]]) -> str:
    """One signed record per line, unchanged, in session order: what a verifier reads."""
    lines = [value for r in rows for value in signed_values(r)]
    return "".join(line + "\n" for line in lines)


#: what `totals_by` groups by
TOTALS_BY = ("day", "month", "evse", "user")


def _local(started_at: object) -> datetime | None:
    try:
        return parse_time(str(started_at)).astimezone()
    except ValueError:
        return None


def _group(row: Mapping[str, Any], by: str) -> tuple[str, str]:
    """The group key of a session and its label (a box's name, a user's or tag's name)."""
    if by in ("day", "month"):
        local = _local(row.get("started_at"))
        if local is None:
            return "", ""
        key = f"{local:%Y-%m-%d}" if by == "day" else f"{local:%Y-%m}"
        return key, key
    if by == "evse":
        key = str(row.get("evse") or "")
        return key, str(row.get("box") or key)
    who = str(row.get("user") or row.get("id_tag") or "")
    return who, who


def totals_by(rows: Iterable[Mapping[str, Any]], by: str) -> list[dict[str, Any]]:
    """Sessions and energy per local day, local month, wallbox or user (or tag).

    Running sessions count with the energy they have so far (see `manager.session_live`), so
    the totals match the tiles. Days and months come newest first, boxes and users by name.
    """
    if by not in TOTALS_BY:
        raise ValueError(f"unknown grouping {by!r}")
    sums: dict[str, dict[str, Any]] = {}
    for r in rows:
        key, label = _group(r, by)
        entry = sums.setdefault(
            key, {"by": by, "key": key, "label": label, "sessions": 0, "running": 0,
                  "energy_kwh": 0.0}
        )  # fmt: skip
        entry["sessions"] += 1
        entry["running"] += 1 if r.get("stopped_at") is None else 0
        entry["energy_kwh"] += float(r.get("energy_wh") or 0.0) / 1000.0
    out = list(sums.values())
    if by in ("day", "month"):
        out.sort(key=lambda e: e["key"], reverse=True)
    else:
        out.sort(key=lambda e: (e["label"].casefold(), e["key"]))
    for e in out:
        e["energy_kwh"] = round(e["energy_kwh"], 3)
    return out

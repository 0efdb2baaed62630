"""Reports over stored sessions: totals per user and month, and the signed meter data as the
boxes sent it (for a transparency verifier). Pure functions over session rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


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

"""What a box enforces and how it is configured, shaped for the Station page.

`profile_view` turns the `profiles` action's answer (GetCompositeSchedule per connector, and
for 2.0.1 the reported charging profiles) into rows and a small server-drawn SVG step chart of
the limit over the next hour per connector; `config_rows` turns either version's configuration
answer into one table.
"""

from __future__ import annotations

from html import escape
from typing import Any

W, H = 600.0, 120.0
COLOURS = ("#2f6fdf", "#16a34a", "#e0a800", "#c2410c")
#: ampshare's own profile ids (default-deny, per connector, TxProfile, max profile)
OWN_IDS = range(19520, 19701)


def _schedule(answer: dict[str, Any]) -> dict[str, Any] | None:
    """The composite schedule in either version's shape (None: the box has none)."""
    if answer.get("status") != "Accepted":
        return None
    sched = answer.get("chargingSchedule") or answer.get("schedule")
    return sched if isinstance(sched, dict) else None


def composite_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for connector, answer in sorted((payload.get("composite") or {}).items()):
        sched = _schedule(answer)
        periods = (sched or {}).get("chargingSchedulePeriod") or []
        rows.append(
            {
                "connector": connector,
                "status": answer.get("status"),
                "unit": (sched or {}).get("chargingRateUnit"),
                "periods": [
                    (float(p.get("startPeriod", 0)), float(p.get("limit", 0))) for p in periods
                ],
                "duration": float((sched or {}).get("duration") or 3600),
            }
        )
    return rows


def profile_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The reported profiles (2.0.1), each marked whether it is ampshare's own."""
    rows = []
    for p in payload.get("profiles") or []:
        schedules = p.get("chargingSchedule") or [{}]
        first = schedules[0] if isinstance(schedules, list) and schedules else {}
        periods = first.get("chargingSchedulePeriod") or [{}]
        rows.append(
            {
                "id": p.get("id"),
                "evse": p.get("evse_id"),
                "purpose": p.get("chargingProfilePurpose"),
                "stack_level": p.get("stackLevel"),
                "limit": periods[0].get("limit"),
                "unit": first.get("chargingRateUnit"),
                "own": p.get("id") in OWN_IDS,
            }
        )
    return rows


def chart(rows: list[dict[str, Any]], empty_text: str) -> str:
    """A step chart of each connector's limit over the schedule's duration (inline SVG)."""
    drawn = [r for r in rows if r["periods"]]
    if not drawn:
        return f'<p class="muted" data-k="no-profiles">{escape(empty_text)}</p>'
    top = max(max(lim for _, lim in r["periods"]) for r in drawn)
    top = max(top, 16.0) * 1.1
    lines = []
    for i, row in enumerate(drawn):
        end = max(row["duration"], row["periods"][-1][0] + 1)
        points: list[str] = []
        for n, (start, limit) in enumerate(row["periods"]):
            stop = row["periods"][n + 1][0] if n + 1 < len(row["periods"]) else end
            y = H - H * limit / top
            points += [f"{W * start / end:.1f},{y:.1f}", f"{W * stop / end:.1f},{y:.1f}"]
        colour = COLOURS[i % len(COLOURS)]
        lines.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
            f'stroke-width="2" vector-effect="non-scaling-stroke"/>'
        )
    legend = " ".join(
        f'<span style="color:{COLOURS[i % len(COLOURS)]}">● {escape(str(r["connector"]))}: '
        f"{r['periods'][0][1]:g} {escape(str(r['unit'] or ''))}</span>"
        for i, r in enumerate(drawn)
    )
    return (
        f'<figure class="profile-chart"><svg viewBox="0 0 {W:g} {H:g}" '
        f'preserveAspectRatio="none" role="img" width="100%" height="120">'
        f'<line x1="0" y1="{H:g}" x2="{W:g}" y2="{H:g}" stroke="#ccd"/>'
        f"{''.join(lines)}</svg><figcaption>{legend}</figcaption></figure>"
    )


def config_rows(version: str | None, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Configuration keys (1.6) or variables (2.0.1) as {key, value, readonly} rows."""
    if version == "1.6":
        return [
            {
                "key": str(k.get("key")),
                "value": "" if k.get("value") is None else str(k.get("value")),
                "readonly": bool(k.get("readonly")),
            }
            for k in payload.get("configurationKey") or []
        ]
    rows = []
    for item in payload.get("reportData") or []:
        attrs = item.get("variableAttribute") or [{}]
        actual = next((a for a in attrs if a.get("type", "Actual") == "Actual"), attrs[0])
        comp = (item.get("component") or {}).get("name")
        var = (item.get("variable") or {}).get("name")
        rows.append(
            {
                "key": f"{comp}.{var}",
                "value": "" if actual.get("value") is None else str(actual.get("value")),
                "readonly": actual.get("mutability") == "ReadOnly",
            }
        )
    return sorted(rows, key=lambda r: r["key"])

"""A wallbox's decision timeline drawn on the server: setpoint and draw as lines over time, the
reasons as coloured bands under them, and the latest bands as sentences.

Like the power chart (web/chart.py) it is a small inline SVG that stretches to any width; the
time axis runs from the first record (at least half an hour back) to now, so a fresh start is not
squeezed into a sliver of a 24-hour axis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

W, H = 1000.0, 160.0
#: bands listed in words under the chart, newest first
LISTED = 8
#: the time axis spans at least this much (minutes)
MIN_SPAN_MIN = 30

#: reason code -> band colour group (CSS class `b-<group>`)
GROUPS: Mapping[str, str] = {
    **dict.fromkeys(
        ("circuit_limit", "power_limit", "unbalance_limit", "base_overload", "base_power",
         "base_unbalance", "backend_cap", "user_limit", "car_takes_less"), "limit"),
    **dict.fromkeys(("waiting_slot", "priority", "resume_wait", "waiting_for_reduce",
                     "reserved", "auth_wait"), "wait"),
    **dict.fromkeys(("at_max", "demand_cap", "ramping_up"), "full"),
    **dict.fromkeys(("no_car", "no_demand", "disabled", "offline", "starting", "below_min",
                     "driver_not_running"), "idle"),
    **dict.fromkeys(("safe_mode", "box_error", "driver_failed", "auth_refused",
                     "backend_stopped", "min_above_max"), "alarm"),
}  # fmt: skip


def group_of(code: str) -> str:
    return GROUPS.get(code, "other")


def _parse(ts: str) -> datetime:
    dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _hm(dt: datetime) -> str:
    return f"{dt.astimezone():%H:%M}"


def band_lines(bands: list[Mapping[str, Any]], limit: int = LISTED) -> list[dict[str, str]]:
    """The newest bands as {since, until, text, group}: "14:02–14:20 limited by ..."."""
    out = []
    for b in reversed(bands[-limit:]):
        reason = b["reason"]
        out.append(
            {
                "since": _hm(_parse(b["since"])),
                "until": _hm(_parse(b["until"])),
                "text": str(reason.get("text") or reason.get("code")),
                "group": group_of(str(reason.get("code"))),
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class _Axes:
    """Time from `start` to `now` across W, amperes from 0 to `top` up H."""

    start: datetime
    now: datetime
    top: float

    def x(self, t: datetime) -> float:
        span = max(60.0, (self.now - self.start).total_seconds())
        return round(W * (t - self.start).total_seconds() / span, 1)

    def y(self, amps: float) -> float:
        return round(H - H * amps / self.top, 1)


def _steps(ax: _Axes, points: list[tuple[datetime, Mapping[str, Any]]], key: str) -> str:
    """An SVG path holding each minute's value for its minute (or until now)."""
    out = []
    for i, (t, p) in enumerate(points):
        level = ax.y(float(p.get(key) or 0))
        end = min(ax.now, t + timedelta(minutes=1))
        out.append(f"{'M' if i == 0 else 'L'}{ax.x(t)} {level}L{ax.x(end)} {level}")
    return "".join(out)


def _band(ax: _Axes, since: datetime, until: datetime, reason: Mapping[str, Any]) -> str:
    left, right = ax.x(since), ax.x(until)
    text = escape(str(reason.get("text") or ""))
    return (
        f'<span class="band b-{group_of(str(reason.get("code")))}" '
        f'style="left:{100 * left / W:.2f}%;width:{max(0.3, 100 * (right - left) / W):.2f}%" '
        f'title="{_hm(since)}–{_hm(until)} {text}"></span>'
    )


def render(
    timeline: Mapping[str, Any],
    scale_a: float,
    *,
    now: datetime | None = None,
    amps: Callable[[float], str] = lambda a: f"{a:g} A",
) -> str:
    """The chart (HTML with an inline SVG) of one box's timeline, its reasons worded already."""
    now = now or datetime.now(UTC)
    points = [(_parse(p["ts"]), p) for p in timeline.get("points") or []]
    bands = [(_parse(b["since"]), _parse(b["until"]), b) for b in timeline.get("bands") or []]
    starts = [t for t, _ in points] + [s for s, _, _ in bands]
    values = [float(p.get(k) or 0) for _, p in points for k in ("setpoint_a", "draw_a")]
    ax = _Axes(min([now - timedelta(minutes=MIN_SPAN_MIN), *starts]), now,
               max([scale_a, 6.0, *values]))  # fmt: skip
    parts = [
        f'<svg viewBox="0 0 {W:g} {H:g}" preserveAspectRatio="none" role="img" '
        'aria-hidden="true" style="height:100%">'
    ]
    for key, cls in (("setpoint_a", "sp"), ("draw_a", "dr")):
        path = _steps(ax, points, key)
        if path:
            parts.append(
                f'<path class="{cls}" d="{path}" fill="none" vector-effect="non-scaling-stroke"/>'
            )
    parts.append("</svg>")
    strip = "".join(_band(ax, s, u, b["reason"]) for s, u, b in bands)
    marks = "".join(
        f'<span class="ax" style="left:{100 * ax.x(m) / W:.1f}%">{_hm(m)}</span>'
        for m in _hour_marks(ax.start, now)
    )
    return (
        f'<div class="tl-plot"><span class="ax ymax">{escape(amps(ax.top))}</span>'
        + "".join(parts)
        + f'</div><div class="tl-bands">{strip}</div><div class="xl">{marks}</div>'
    )


def _hour_marks(start: datetime, now: datetime) -> list[datetime]:
    """At most five marks on round local times (every 15 min up to every 6 h)."""
    minutes = (now - start).total_seconds() / 60
    every = next((n for n in (15, 30, 60, 120, 180, 360) if minutes / n <= 5), 360)
    local = start.astimezone()
    mark = local.replace(minute=0, second=0, microsecond=0)
    out = []
    while mark <= now:
        of_day = mark.hour * 60 + mark.minute
        if mark > local and of_day % every == 0:
            out.append(mark)
        mark += timedelta(minutes=15)
    return out

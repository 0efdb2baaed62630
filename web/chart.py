"""The 24-hour power chart as a small piece of HTML with an inline SVG, drawn on the server.

The SVG stretches to any width (non-scaling strokes) and the axis labels are HTML, so the
chart stays readable at 360 px and on a desktop without any chart library in the browser.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

W, H = 1000.0, 300.0
MAX_POINTS = 360
SERIES = (("grid_w", "#2f6fdf"), ("pv_w", "#e0a800"), ("charge_w", "#16a34a"))


def _parse(ts: Any) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def downsample(points: list[dict[str, Any]], max_points: int = MAX_POINTS) -> list[dict[str, Any]]:
    """Average neighbouring points so that at most `max_points` remain."""
    if len(points) <= max_points:
        return points
    size = math.ceil(len(points) / max_points)
    out = []
    for i in range(0, len(points), size):
        group = points[i : i + size]
        avg: dict[str, Any] = {"ts": group[len(group) // 2]["ts"]}
        for key, _ in SERIES:
            vals = [float(p[key]) for p in group if isinstance(p.get(key), int | float)]
            avg[key] = sum(vals) / len(vals) if vals else None
        out.append(avg)
    return out


def _nice_step(span_w: float) -> float:
    raw = span_w / 4
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1000
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _marks(start: datetime, now: datetime) -> list[datetime]:
    """Times to label on the x axis: every 6 h over a day, finer over a young history."""
    span_h = (now - start).total_seconds() / 3600
    every = next((m for limit, m in ((2, 15), (4, 30), (8, 60), (16, 180)) if span_h <= limit), 360)
    local = start.astimezone()
    mark = local.replace(minute=0, second=0, microsecond=0)
    out = []
    while mark <= now.astimezone():
        minutes = mark.hour * 60 + mark.minute
        if mark > local and minutes % every == 0:
            out.append(mark)
        mark += timedelta(minutes=15)
    return out


def render(
    points: Iterable[Mapping[str, Any]],
    *,
    now: datetime | None = None,
    hours: float = 24.0,
    empty_text: str = "No history yet.",
    decimal_comma: bool = False,
) -> str:
    now = now or datetime.now(UTC)
    start = now - timedelta(hours=hours)
    parsed: list[tuple[datetime, Mapping[str, Any]]] = []
    for p in points:
        ts = _parse(p.get("ts"))
        if ts is not None and start <= ts <= now + timedelta(minutes=5):
            parsed.append((ts, p))
    parsed.sort(key=lambda x: x[0])
    rows = downsample([{**p, "ts": ts} for ts, p in parsed])
    if len(rows) < 2:
        return f'<p class="muted small">{escape(empty_text)}</p>'

    # a young history fills the width: the axis starts at its first point (one hour at least)
    start = max(start, min(rows[0]["ts"], now - timedelta(hours=1)))
    values = [float(r[k]) for r in rows for k, _ in SERIES if isinstance(r.get(k), int | float)]
    lo, hi = min([0.0, *values]), max([1000.0, *values])
    step = _nice_step(hi - lo)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step) * step
    span_t = (now - start).total_seconds()

    def x(ts: datetime) -> float:
        return round(W * (ts - start).total_seconds() / span_t, 1)

    def y(v: float) -> float:
        return round(H - H * (v - lo) / (hi - lo), 1)

    parts = [
        f'<svg viewBox="0 0 {W:g} {H:g}" preserveAspectRatio="none" role="img" '
        'aria-label="power, last 24 h" style="height:100%">'
    ]
    ticks = []
    v = lo
    while v <= hi + 1e-9:
        cls = "zero" if abs(v) < 1e-9 else "grid"
        parts.append(
            f'<line class="{cls}" x1="0" x2="{W:g}" y1="{y(v)}" y2="{y(v)}" '
            'vector-effect="non-scaling-stroke"/>'
        )
        ticks.append(v)
        v += step
    for key, colour in SERIES:
        path: list[str] = []
        pen_up = True
        for r in rows:
            val = r.get(key)
            if not isinstance(val, int | float):
                pen_up = True
                continue
            path.append(f"{'M' if pen_up else 'L'}{x(r['ts'])} {y(float(val))}")
            pen_up = False
        if path:
            parts.append(
                f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="2" '
                'stroke-linejoin="round" vector-effect="non-scaling-stroke"/>'
            )
    parts.append("</svg>")

    def kw(v: float) -> str:
        text = f"{v / 1000:g} kW"
        return text.replace(".", ",") if decimal_comma else text

    labels = "".join(
        f'<span class="ax" style="top:{100 * (1 - (t - lo) / (hi - lo)):.1f}%">{kw(t)}</span>'
        for t in ticks
    )
    hours_marks = [
        f'<span class="ax" style="left:{100 * (m - start).total_seconds() / span_t:.1f}%">'
        f"{m.astimezone():%H:%M}</span>"
        for m in _marks(start, now)
    ]
    return (
        '<div class="plot"><div class="yl">'
        + labels
        + '</div><div class="area">'
        + "".join(parts)
        + '</div></div><div class="xl">'
        + "".join(hours_marks)
        + "</div>"
    )

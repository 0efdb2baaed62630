"""Jinja2 environment, number formatting and the context every page gets.

Numbers are formatted here the same way the browser script formats live updates (one decimal,
decimal comma in German), so a tile looks identical before and after its first SSE update.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from web.gateway_words import gateway_lines
from web.i18n import LANGUAGES, choose_language, js_strings, translator
from web.mode_words import MODE_LABELS, countdown

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
DASH = "—"


def num(value: Any, digits: int = 1, lang: str = "en") -> str:
    """A number with `digits` decimals and a thousands separator, or a dash for no value."""
    if value is None or isinstance(value, bool):
        return DASH
    try:
        x = float(value)
    except (TypeError, ValueError):
        return DASH
    if math.isnan(x) or math.isinf(x):
        return DASH
    text = f"{x:,.{digits}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    if lang == "de":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def power_parts(watts: Any, lang: str = "en") -> tuple[str, str]:
    """("7,4", "kW") or ("850", "W"): the figure and unit shown on a tile."""
    if watts is None:
        return DASH, "kW"
    try:
        w = float(watts)
    except (TypeError, ValueError):
        return DASH, "kW"
    if abs(w) >= 1000:
        return num(w / 1000.0, 1, lang), "kW"
    return num(w, 0, lang), "W"


def energy(wh: Any, lang: str = "en") -> str:
    if wh is None:
        return DASH
    return f"{num(float(wh) / 1000.0, 2 if abs(float(wh)) < 100_000 else 1, lang)} kWh"


def pct(value: Any, scale: Any) -> float:
    """Bar width in percent, clamped to [0, 100]."""
    try:
        v, s = float(value), float(scale)
    except (TypeError, ValueError):
        return 0.0
    if s <= 0 or math.isnan(v):
        return 0.0
    return round(max(0.0, min(100.0, 100.0 * v / s)), 1)


def evse_scale(evse: dict[str, Any]) -> float:
    """Full scale of a wallbox's phase bars: its max current, else 16 A."""
    return float(evse.get("max_current_a") or 16.0)


def site_scale(site: dict[str, Any]) -> float:
    limits = [x for x in site.get("limit_a") or [] if isinstance(x, int | float)]
    return float(max(limits)) if limits else 32.0


def status_word(status: str | None) -> str:
    return (status or "offline").replace("_", " ")


def _asset_versions() -> dict[str, str]:
    """Content hash per static file, appended as ?v= so browsers may cache assets for long."""
    out: dict[str, str] = {}
    for path in STATIC.rglob("*"):
        if path.is_file():
            rel = path.relative_to(STATIC).as_posix()
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return out


class Renderer:
    """Renders templates with language, CSRF token and formatting helpers filled in."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html", "svg"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        versions = _asset_versions()
        self.env.globals.update(
            static=lambda name: f"/static/{name}?v={versions.get(name, '0')}",
            pct=pct,
            status_word=status_word,
            gateway_lines=gateway_lines,
            countdown=countdown,
            mode_labels=MODE_LABELS,
            languages=LANGUAGES,
        )

    def context(self, request: Request, **extra: Any) -> dict[str, Any]:
        lang = choose_language(request)
        ctx: dict[str, Any] = {
            "request": request,
            "lang": lang,
            "_": translator(lang),
            "num": lambda v, d=1: num(v, d, lang),
            "power": lambda w: power_parts(w, lang),
            "energy": lambda wh: energy(wh, lang),
            "strings": js_strings(lang),
            "csrf": request.scope.get("csrf", ""),
            "active": "",
        }
        ctx.update(extra)
        return ctx

    def render(self, name: str, ctx: dict[str, Any]) -> str:
        return self.env.get_template(name).render(ctx)

    def page(
        self,
        request: Request,
        name: str,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> HTMLResponse:
        html = self.render(name, self.context(request, **extra))
        resp = HTMLResponse(html, status_code=status_code, headers=headers)
        resp.headers["cache-control"] = "no-store"
        return resp

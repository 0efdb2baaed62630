"""Views over what happened: session totals (API) and each wallbox's decision timeline (API
and page). The session list itself is in web/pages.py and web/api.py."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from manager.service import InvalidInput, Service
from web import timeline_chart
from web.api import jsonable, session_filters
from web.i18n import choose_language, translator
from web.render import Renderer, num
from web.wording import worded

#: what the totals can be grouped by (as in manager.session_report.TOTALS_BY)
TOTALS_BY = ("day", "month", "evse", "user")


def decision_views(service: Service, lang: str, evse: str | None = None) -> list[dict[str, Any]]:
    """The decision timelines as JSON, each band's reason worded in `lang`."""
    out = []
    for timeline in service.decisions(evse):
        data = timeline.model_dump(mode="json")
        for band in data["bands"]:
            band["reason"] = worded(band["reason"], lang)
        out.append(data)
    return out


def totals_chart(totals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Totals with `pct`, the bar length against the largest energy in the list."""
    top = max((t["energy_kwh"] for t in totals), default=0.0)
    return [{**t, "pct": round(100 * t["energy_kwh"] / top, 1) if top else 0.0} for t in totals]


class ViewRoutes:
    def __init__(self, service: Service, renderer: Renderer) -> None:
        self.service = service
        self.r = renderer

    def routes(self) -> list[Route]:
        return [
            Route("/api/sessions/totals/{by}", self.session_totals),
            Route("/api/history/decisions", self.decisions_api),
            Route("/decisions", self.decisions_page),
        ]

    async def session_totals(self, request: Request) -> Response:
        """Sessions and energy per day, month, wallbox or user; running ones count so far."""
        by = request.path_params["by"]
        if by not in TOTALS_BY:
            raise InvalidInput.one("by", f"must be one of {', '.join(TOTALS_BY)}")
        rows = self.service.list_sessions(**session_filters(request))
        return jsonable(self.service.session_totals_by(rows, by))

    def _evse(self, request: Request) -> str | None:
        unknown = set(request.query_params) - {"evse"}
        if unknown:
            raise InvalidInput([{"field": k, "message": "unknown filter"} for k in sorted(unknown)])
        evse = request.query_params.get("evse") or None
        if evse is not None:
            self.service.get_device(evse)  # 404 for an unknown box
        return evse

    async def decisions_api(self, request: Request) -> Response:
        """Per wallbox, the last 24 h of setpoint, draw and reasons as bands."""
        return jsonable(decision_views(self.service, choose_language(request), self._evse(request)))

    async def decisions_page(self, request: Request) -> Response:
        lang = choose_language(request)
        limits = {
            d["id"]: float(d.get("max_current_a") or 16.0)
            for d in self.service.list_devices()
            if d["kind"] == "evse"
        }
        boxes = []
        for t in decision_views(self.service, lang):
            scale = limits.get(t["evse"], 16.0)
            chart = timeline_chart.render(t, scale, amps=lambda a: f"{num(a, 0, lang)} A")
            lines = timeline_chart.band_lines(t["bands"])
            boxes.append({**t, "chart": chart, "lines": lines, "known": t["evse"] in limits})
        return self.r.page(
            request,
            "decisions.html",
            active="decisions",
            boxes=boxes,
            title=translator(lang)("Decisions"),
        )

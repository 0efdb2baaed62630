"""The Station page of an OCPP box (configured or not): identity, enforced profiles, actions,
configuration. Actions go from the page to POST /api/stations/{id}/{action}; the profile chart
and the configuration table are fragments drawn here on the server."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from manager.model import StationOffline, StationTimeout
from manager.service import NotFound, Service
from web.api import who
from web.i18n import choose_language, translator
from web.render import Renderer
from web.station_view import chart, composite_rows, config_rows, profile_rows

F = dict[str, Any]


def _f(name: str, kind: str = "str", choices: tuple[str, ...] = (), value: Any = "") -> F:
    return {"name": name, "kind": kind, "choices": choices, "value": value}


def action_forms(version: str | None) -> list[F]:
    """One small form per action, with the fields of the box's OCPP version."""
    v16 = version != "2.0.1"
    reset = ("Soft", "Hard") if v16 else ("OnIdle", "Immediate")
    triggers = ("StatusNotification", "BootNotification", "Heartbeat", "MeterValues",
                "FirmwareStatusNotification")  # fmt: skip
    trig = (*triggers, "DiagnosticsStatusNotification" if v16 else "LogStatusNotification")
    forms = [
        ("clear_profiles", [_f("id", "int"), _f("connector_id", "int"),
                            _f("stack_level", "int")]),
        ("reset", [_f("type", choices=reset)]),
        ("unlock", [_f("connector_id", "int", value=1)]),
        ("availability", [_f("operative", "bool", ("true", "false")),
                          _f("connector_id", "int", value=0)]),
        ("trigger", [_f("message", choices=trig), _f("connector_id", "int", value=1)]),
        ("remote_start", [_f("id_tag"), _f("connector_id", "int", value=1)]),
        ("remote_stop", [_f("transaction_id", "int" if v16 else "str")]),
        ("data_transfer", [_f("vendor_id"), _f("message_id"), _f("data")]),
        ("reserve", [_f("connector_id", "int", value=1), _f("id_tag"),
                     _f("minutes", "int", value=30)]),
        ("cancel_reservation", [_f("reservation_id", "int")]),
    ]  # fmt: skip
    forms.append(
        (
            "certificates",
            [
                _f("operation", choices=("list", "install", "delete", "renew")),
                _f("certificate_type"),
                _f("issuer_name_hash"),
                _f("issuer_key_hash"),
                _f("serial_number"),
            ],
        )
    )
    if not v16:
        forms.append(
            (
                "display",
                [_f("operation", choices=("set", "get", "clear")), _f("message"), _f("id", "int")],
            )
        )
    return [{"action": a, "fields": fs} for a, fs in forms]


class StationPages:
    def __init__(self, service: Service, renderer: Renderer) -> None:
        self.service = service
        self.r = renderer

    def routes(self) -> list[Route]:
        return [
            Route("/stations/{cb_id}", self.page),
            Route("/stations/{cb_id}/profiles", self.profiles),
            Route("/stations/{cb_id}/configuration", self.configuration),
        ]

    async def page(self, request: Request) -> Response:
        cb_id = request.path_params["cb_id"]
        try:
            info = self.service.station(cb_id)
        except NotFound:
            _ = translator(choose_language(request))
            return self.r.page(
                request,
                "error.html",
                status_code=404,
                title=_("Station"),
                message=_("No charge point with this ID has connected since start."),
            )
        return self.r.page(
            request,
            "station.html",
            active="dashboard",
            st=info,
            forms=action_forms(info.get("protocol")),
        )

    async def _ask(self, request: Request, action: str) -> tuple[dict[str, Any] | None, str]:
        """The box's answer, or None and why not (shown in the fragment)."""
        _ = translator(choose_language(request))
        cb_id = request.path_params["cb_id"]
        try:
            answer = await self.service.station_action(cb_id, action, {}, who(request))
        except StationOffline:
            return None, _("The box is not connected.")
        except StationTimeout:
            return None, _("The box did not answer in time.")
        return answer, ""

    def _fragment(self, request: Request, name: str, **extra: Any) -> Response:
        html = self.r.render(name, self.r.context(request, **extra))
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def profiles(self, request: Request) -> Response:
        answer, problem = await self._ask(request, "profiles")
        _ = translator(choose_language(request))
        payload = answer["payload"] if answer else {}
        rows = composite_rows(payload)
        return self._fragment(
            request,
            "_station_profiles.html",
            problem=problem,
            svg=chart(rows, _("The box enforces no charging limit.")) if answer else "",
            composite=rows,
            profiles=profile_rows(payload),
        )

    async def configuration(self, request: Request) -> Response:
        answer, problem = await self._ask(request, "configuration")
        version = None
        try:
            version = self.service.station(request.path_params["cb_id"]).get("protocol")
        except NotFound:
            pass
        rows = config_rows(version, answer["payload"]) if answer else []
        return self._fragment(request, "_station_config.html", problem=problem, rows=rows)

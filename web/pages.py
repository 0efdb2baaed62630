"""Server-rendered pages: login, dashboard, device/circuit forms, settings, sessions, events.

Forms are rendered from the facade's JSON schemas and submitted by the page script as JSON to
the API, so the browser and API clients go through exactly the same validation.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from manager.model import ROTATIONS
from manager.service import (
    ROOT_CIRCUIT,
    ChargePoint,
    EvseState,
    InvalidInput,
    MeterState,
    NotFound,
    Service,
    Throttled,
)
from web import chart
from web.api import session_filters
from web.auth import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Authenticator,
    set_session_cookie,
)
from web.error_words import message
from web.event_words import device_names, kind_word, shown_event
from web.forms import SKIP_KEYS, FormField, fields_from_schema, object_sections
from web.i18n import FIELD_LABELS, LANG_COOKIE, LANGUAGES, choose_language, translator
from web.mode_words import MODE_LABELS
from web.render import Renderer, energy, evse_scale, site_scale
from web.views import TOTALS_BY, totals_chart
from web.wording import shown

log = logging.getLogger(__name__)

ROOT_FIELDS = ("max_current_a", "max_power_w", "max_unbalance_a", "reserve_a")


def safe_next(target: str | None) -> str:
    """Only local paths, so the login page cannot be used to send people elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def local_time(ts: Any) -> str:
    if not isinstance(ts, str) or not ts:
        return ""
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    if dt.tzinfo is not None:
        dt = dt.astimezone()
    return dt.strftime("%Y-%m-%d %H:%M")


def hours_minutes(seconds: Any) -> str:
    """A duration as h:mm (a running session's so far)."""
    if not isinstance(seconds, int | float):
        return ""
    minutes = max(0, int(seconds // 60))
    return f"{minutes // 60}:{minutes % 60:02d} h"


def circuit_tree(circuits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Circuits as nested nodes {circuit, children}, root (grid connection) first."""
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    ids = {c["id"] for c in circuits}
    for c in circuits:
        parent = c.get("parent")
        if parent is not None and parent not in ids:
            parent = None  # orphan: show it at the top rather than lose it
        by_parent.setdefault(parent, []).append(c)

    def build(parent: str | None, depth: int) -> list[dict[str, Any]]:
        if depth > 20:
            return []
        nodes = sorted(
            by_parent.get(parent, []), key=lambda c: (c["id"] != ROOT_CIRCUIT, c["name"])
        )
        return [{"circuit": c, "children": build(c["id"], depth + 1)} for c in nodes]

    return build(None, 0)


def circuit_label(circuit: dict[str, Any], translate: Any) -> str:
    """The grid connection's name in the page language; other circuits as the user named them."""
    if circuit.get("id") == ROOT_CIRCUIT:
        return str(translate("Grid connection"))
    return str(circuit.get("name") or circuit.get("id"))


def descendants(circuits: list[dict[str, Any]], root: str) -> set[str]:
    out = {root}
    changed = True
    while changed:
        changed = False
        for c in circuits:
            if c.get("parent") in out and c["id"] not in out:
                out.add(c["id"])
                changed = True
    return out


class Pages:
    def __init__(self, service: Service, auth: Authenticator, renderer: Renderer) -> None:
        self.service = service
        self.auth = auth
        self.r = renderer

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/lang/{code}", self.language),
            Route("/favicon.ico", self.favicon),
            Route("/", self.dashboard),
            Route("/fragments/chart", self.chart_fragment),
            Route("/devices/new", self.new_device),
            Route("/devices/{id}", self.edit_device),
            Route("/circuits/new", self.new_circuit),
            Route("/circuits/{id}", self.edit_circuit),
            Route("/settings", self.settings),
            Route("/sessions", self.sessions),
            Route("/events", self.events),
        ]

    def error(self, request: Request, status: int, message: str) -> Response:
        _ = translator(choose_language(request))
        title = _("Page not found.") if status == 404 else _("Something went wrong.")
        return self.r.page(request, "error.html", status, title=title, message=message)

    # -- login -------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._login_post(request)
        target = safe_next(request.query_params.get("next"))
        if self.auth.session_id(request.cookies.get(SESSION_COOKIE)):
            return RedirectResponse(target, status_code=303)
        return self._login_form(request, target, None, 200)

    def _login_form(
        self,
        request: Request,
        target: str,
        error: str | None,
        status: int,
        headers: dict[str, str] | None = None,
    ) -> Response:
        nonce = self.auth.login_nonce()
        resp = self.r.page(
            request,
            "login.html",
            status,
            headers=headers,
            login_csrf=self.auth.login_csrf(nonce),
            next=target,
            error=error,
        )
        resp.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=3600,
            path="/login",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return resp

    async def _login_post(self, request: Request) -> Response:
        _ = translator(choose_language(request))
        async with request.form(max_files=0, max_fields=8) as form:
            password = str(form.get("password") or "")
            username = str(form.get("username") or "admin").strip() or "admin"
            token = str(form.get(CSRF_FIELD) or "")
            target = safe_next(str(form.get("next") or "/"))
        if not self.auth.check_login_csrf(request.cookies.get(LOGIN_COOKIE), token):
            return self._login_form(
                request, target, _("The login form expired. Please try again."), 400
            )
        client = request.client.host if request.client else "unknown"
        user: str | None = None
        try:
            if username == "admin":
                ok = await self.auth.verify_password(password, client)
            else:  # a user's self-service login
                user = await self.service.verify_user(username, password, client)
                ok = user is not None
        except Throttled as exc:
            wait = max(1, round(exc.retry_after_s + 0.49))
            msg = _("Too many failed attempts. Try again in {s} s.", s=wait)
            return self._login_form(request, target, msg, 429, {"retry-after": str(wait)})
        if not ok:
            return self._login_form(request, target, _("Wrong password."), 401)
        cookie, _sid = self.auth.new_session(user)
        log.info("%s logged in from %s", f"user {user}" if user else "admin", client)
        resp = RedirectResponse("/me" if user else target, status_code=303)
        set_session_cookie(resp, request, cookie)
        resp.delete_cookie(LOGIN_COOKIE, path="/login")
        return resp

    async def logout(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=4) as form:
            token = str(form.get(CSRF_FIELD) or "")
        if not self.auth.check_csrf(request.scope["identity"], token):
            return self.error(request, 403, "CSRF token missing or wrong; reload the page.")
        await self.auth.end_session(request.cookies.get(SESSION_COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    async def language(self, request: Request) -> Response:
        code = request.path_params["code"]
        resp = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        if code in LANGUAGES:
            resp.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
        return resp

    async def favicon(self, request: Request) -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    # -- dashboard ---------------------------------------------------------------------------

    def _chart(self, request: Request) -> str:
        lang = choose_language(request)
        return chart.render(
            self.service.history(24),
            empty_text=translator(lang)("No history yet."),
            decimal_comma=lang == "de",
        )

    async def dashboard(self, request: Request) -> Response:
        state = shown(self.service.state(), choose_language(request))
        return self.r.page(
            request,
            "dashboard.html",
            active="dashboard",
            state=state,
            site_scale=site_scale(state["site"]),
            evse_scale=evse_scale,
            chart=self._chart(request),
            blank_evse=EvseState().model_dump(mode="json"),
            blank_meter=MeterState().model_dump(mode="json"),
            blank_cp=ChargePoint().model_dump(mode="json"),
        )

    async def chart_fragment(self, request: Request) -> Response:
        resp = Response(self._chart(request), media_type="text/html; charset=utf-8")
        resp.headers["cache-control"] = "no-store"
        return resp

    # -- devices -----------------------------------------------------------------------------

    def _circuit_choices(self, request: Request) -> list[tuple[str, str]]:
        _ = translator(choose_language(request))
        return [(c["id"], circuit_label(c, _)) for c in self.service.list_circuits()]

    def _driver(self, name: str) -> dict[str, Any] | None:
        return next((d for d in self.service.drivers() if d["name"] == name), None)

    def _device_fields(
        self, request: Request, kind: str, driver: dict[str, Any], values: dict[str, Any]
    ) -> tuple[list[FormField], list[FormField]]:
        _ = translator(choose_language(request))
        common_schema = self.service.device_schema(kind)
        choices = {
            "circuit": self._circuit_choices(request),
            "phase_rotation": [(r, r) for r in ROTATIONS],
            # the tile's words: "pv" is Solar here, not the meter role PV
            "charge_mode": [(m, _(label)) for m, label in MODE_LABELS],
        }
        common = fields_from_schema(common_schema, values, choices=choices, translate=_)
        common_keys = {f.key for f in common} | {"id", "kind", "driver"}
        specific = fields_from_schema(
            driver.get("schema") or {}, values, skip=common_keys, translate=_
        )
        return common, specific

    @staticmethod
    def _split_gateway(common: list[FormField]) -> tuple[list[FormField], list[FormField]]:
        """The gateway fields get their own section of the wallbox form."""
        gateway = [f for f in common if f.key.startswith("gateway_")]
        return [f for f in common if not f.key.startswith("gateway_")], gateway

    async def new_device(self, request: Request) -> Response:
        q = request.query_params
        drivers = self.service.drivers()
        kind = q.get("kind") if q.get("kind") in ("evse", "meter") else "evse"
        kind_drivers = [d for d in drivers if d["kind"] == kind]
        driver = next((d for d in kind_drivers if d["name"] == q.get("driver")), None)
        if driver is None and kind_drivers:
            driver = kind_drivers[0]
        common: list[FormField] = []
        specific: list[FormField] = []
        if driver is not None:
            prefill = {k: v for k, v in q.items() if k not in ("kind", "driver")}
            common, specific = self._device_fields(request, kind, driver, prefill)
        common, gateway = self._split_gateway(common)
        return self.r.page(
            request,
            "device.html",
            active="settings",
            device=None,
            kind=kind,
            driver=driver,
            drivers=drivers,
            common=common,
            specific=specific,
            gateway=gateway,
        )

    async def edit_device(self, request: Request) -> Response:
        try:
            device = self.service.get_device(request.path_params["id"])
        except NotFound as exc:
            return self.error(request, 404, str(exc))
        driver = self._driver(device["driver"]) or {
            "name": device["driver"],
            "title": device["driver"],
            "kind": device["kind"],
            "testable": False,
            "schema": {},
        }
        common, specific = self._device_fields(request, device["kind"], driver, device)
        common, gateway = self._split_gateway(common)
        return self.r.page(
            request,
            "device.html",
            active="settings",
            device=device,
            kind=device["kind"],
            driver=driver,
            drivers=[],
            common=common,
            specific=specific,
            gateway=gateway,
            users=self.service.list_users() if device["kind"] == "evse" else [],
        )

    # -- circuits ----------------------------------------------------------------------------

    def _circuit_fields(
        self, request: Request, circuit: dict[str, Any] | None, values: dict[str, Any]
    ) -> list[FormField]:
        _ = translator(choose_language(request))
        circuits = self.service.list_circuits()
        if circuit is not None and circuit["id"] == ROOT_CIRCUIT:
            full = self.service.circuit_schema()
            schema = {
                **full,
                "required": ["max_current_a"],
                "properties": {k: full["properties"][k] for k in ROOT_FIELDS},
            }
            labels = {**FIELD_LABELS, **{k: FIELD_LABELS[f"site.{k}"] for k in ROOT_FIELDS}}
            return fields_from_schema(schema, values, translate=_, labels=labels)
        banned = descendants(circuits, circuit["id"]) if circuit else set()
        meters = [(d["id"], d["name"]) for d in self.service.list_devices() if d["kind"] == "meter"]
        choices = {
            "parent": [(c["id"], circuit_label(c, _)) for c in circuits if c["id"] not in banned],
            "meter": meters,
        }
        schema = self.service.circuit_schema()
        return fields_from_schema(schema, values, choices=choices, translate=_)

    def _fuses(self, request: Request) -> dict[str, list[Any]]:
        """Each circuit's name and fuse, for the warning when a sub-board's fuse is larger."""
        _ = translator(choose_language(request))
        return {
            c["id"]: [circuit_label(c, _), c["max_current_a"]] for c in self.service.list_circuits()
        }

    async def new_circuit(self, request: Request) -> Response:
        values = {"parent": request.query_params.get("parent") or ROOT_CIRCUIT}
        return self.r.page(
            request,
            "circuit.html",
            active="settings",
            circuit=None,
            fields=self._circuit_fields(request, None, values),
            fuses=self._fuses(request),
        )

    async def edit_circuit(self, request: Request) -> Response:
        try:
            circuit = self.service.get_circuit(request.path_params["id"])
        except NotFound as exc:
            return self.error(request, 404, str(exc))
        return self.r.page(
            request,
            "circuit.html",
            active="settings",
            circuit=circuit,
            fields=self._circuit_fields(request, circuit, circuit),
            fuses=self._fuses(request),
        )

    # -- settings ----------------------------------------------------------------------------

    async def settings(self, request: Request) -> Response:
        _ = translator(choose_language(request))
        schema = self.service.settings_schema()
        values = self.service.get_settings()
        sections = []
        for key, section_schema in object_sections(schema):
            fields = fields_from_schema(
                section_schema,
                values.get(key, {}),
                prefix=f"{key}.",
                translate=_,
                root=schema,
                # the grid connection's limits are edited in one place: its circuit form
                skip={"id", "kind", "driver", *ROOT_FIELDS} if key == "site" else SKIP_KEYS,
            )
            sections.append((key, fields))
        devices = self.service.list_devices()
        circuits = self.service.list_circuits()
        members: dict[str, list[str]] = {}
        for d in devices:
            if d["kind"] == "evse":
                members.setdefault(d.get("circuit") or ROOT_CIRCUIT, []).append(d["name"])
        for c in circuits:
            if c.get("meter"):
                meter = next((d["name"] for d in devices if d["id"] == c["meter"]), c["meter"])
                members.setdefault(c["id"], []).insert(0, f"{_('Meter')}: {meter}")
        return self.r.page(
            request,
            "settings.html",
            active="settings",
            sections=dict(sections),
            tree=circuit_tree(circuits),
            members=members,
            devices=devices,
            circuit_names={c["id"]: circuit_label(c, _) for c in circuits},
            driver_titles={d["name"]: d["title"] for d in self.service.drivers()},
        )

    # -- sessions and events -----------------------------------------------------------------

    async def sessions(self, request: Request) -> Response:
        q = request.query_params
        error = None
        try:
            rows = self.service.list_sessions(**session_filters(request))
        except InvalidInput as exc:
            rows, error = [], exc.errors
        total_wh = sum(float(r.get("energy_wh") or 0.0) for r in rows)
        shown = [
            {
                **r,
                "start": local_time(r.get("started_at")),
                "end": local_time(r.get("stopped_at")),
                "duration": hours_minutes(r.get("duration_s")),
            }
            for r in reversed(rows)
        ]
        query = urlencode({k: v for k, v in q.items() if v})
        devices = [d for d in self.service.list_devices() if d["kind"] == "evse"]
        return self.r.page(
            request,
            "sessions.html",
            active="sessions",
            rows=shown,
            total=energy(total_wh, choose_language(request)),
            count=len(rows),
            query=query,
            filters={k: q.get(k, "") for k in ("since", "until", "evse", "user", "month")},
            totals=self.service.session_totals(rows),
            charts={by: totals_chart(self.service.session_totals_by(rows, by)) for by in TOTALS_BY},
            devices=devices,
            names={d["id"]: d["name"] for d in devices},
            users=self.service.list_users(),
            errors={e["field"]: message(e, choose_language(request)) for e in error or []},
        )

    async def events(self, request: Request) -> Response:
        """The newest events in words, filtered by kind and box; new ones arrive live."""
        lang = choose_language(request)
        devices = self.service.list_devices()
        names = device_names(devices)
        recent = self.service.recent_events(1000)
        kind, box = request.query_params.get("kind", ""), request.query_params.get("box", "")
        matching = [
            e
            for e in recent
            if (not kind or e.get("kind") == kind)
            and (not box or names.get(str(e.get("device")), e.get("device")) == names.get(box, box))
        ][:200]
        events = [
            {**shown_event(e, names, lang), "time": local_time(e.get("ts"))} for e in matching
        ]
        kinds = sorted({str(e.get("kind")) for e in recent} | ({kind} - {""}))
        audit = [{**a, "time": local_time(a.get("ts"))} for a in self.service.audit_log(100)]
        return self.r.page(
            request,
            "events.html",
            active="events",
            events=events,
            audit=audit,
            kinds=[(k, kind_word(k, lang)) for k in kinds],
            boxes=[(d["id"], d["name"]) for d in devices],
            filters={"kind": kind, "box": box},
        )

"""Self-service for users (not the admin): their own sessions and CSV, and the charge mode of
the wallboxes they may use. Everything else answers 403, in the API and in the pages."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from manager.service import InvalidInput, Service
from web.api import download, export_name, jsonable, read_object, session_filters
from web.auth import Authenticator, set_session_cookie
from web.error_words import message
from web.i18n import choose_language, translator
from web.pages import hours_minutes, local_time
from web.render import Renderer, energy

_USER_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", r"/"),
    ("GET", r"/me"),
    ("POST", r"/logout"),
    ("GET", r"/api/me"),
    ("GET", r"/api/me/sessions"),
    ("GET", r"/api/me/sessions\.csv"),
    ("PATCH", r"/api/me/evses/[a-z0-9][a-z0-9_-]{0,39}"),
)
_ALLOWED = tuple((m, re.compile(p + r"\Z")) for m, p in _USER_ROUTES)


def user_may(method: str, path: str) -> bool:
    """What a user's login may do; the admin's is not asked."""
    check = "GET" if method == "HEAD" else method
    return any(m == check and p.match(path) for m, p in _ALLOWED)


def refuse_user(conn: HTTPConnection, is_api: bool) -> Response:
    if conn.url.path == "/" or (not is_api and conn.url.path == "/me/"):
        return RedirectResponse("/me", status_code=303)
    if is_api:
        return JSONResponse({"error": "not allowed for a user login"}, status_code=403)
    _ = translator(choose_language(conn))
    return Response(_("This page is for the admin only."), status_code=403)


class SelfService:
    def __init__(self, service: Service, auth: Authenticator, renderer: Renderer) -> None:
        self.service = service
        self.auth = auth
        self.r = renderer

    def routes(self) -> list[Route]:
        return [
            Route("/me", self.page),
            Route("/login/link/{token}", self.link),
            Route("/api/me", self.me),
            Route("/api/me/sessions", self.sessions),
            Route("/api/me/sessions.csv", self.sessions_csv),
            Route("/api/me/evses/{id}", self.charge_mode, methods=["PATCH"]),
            Route("/api/users/{id}/login-link", self.make_link, methods=["POST"]),
        ]

    @staticmethod
    def _user(request: Request) -> str:
        user = request.scope["identity"].user
        if user is None:  # the admin has no own sessions page
            raise InvalidInput.one("user", "log in as a user to see your own sessions")
        return str(user)

    async def me(self, request: Request) -> Response:
        return jsonable(self.service.me(self._user(request)))

    async def sessions(self, request: Request) -> Response:
        filters = session_filters(request)
        return jsonable(self.service.my_sessions(self._user(request), **_without_user(filters)))

    async def sessions_csv(self, request: Request) -> Response:
        user = self._user(request)
        filters = _without_user(session_filters(request))
        text = self.service.my_sessions_csv(user, **filters)
        name = self.service.me(user)["name"]
        return download(text, "text/csv", export_name(f"sessions-{name}", request, ".csv"))

    async def charge_mode(self, request: Request) -> Response:
        body = await read_object(request)
        unknown = set(body) - {"charge_mode"}
        if unknown:
            raise InvalidInput([{"field": k, "message": "unknown field"} for k in sorted(unknown)])
        user = self._user(request)
        mode = body.get("charge_mode")
        return jsonable(
            await self.service.set_my_charge_mode(user, request.path_params["id"], mode)
        )

    async def make_link(self, request: Request) -> Response:
        made = await self.service.create_login_link(request.path_params["id"])
        return jsonable({**made, "url": str(request.base_url).rstrip("/") + made["path"]})

    async def link(self, request: Request) -> Response:
        user = await self.service.redeem_login_link(request.path_params["token"])
        if user is None:
            _ = translator(choose_language(request))
            return Response(_("This login link is used or expired."), status_code=403)
        cookie, _sid = self.auth.new_session(user)
        resp = RedirectResponse("/me", status_code=303)
        set_session_cookie(resp, request, cookie)
        return resp

    async def page(self, request: Request) -> Response:
        user = self._user(request)
        q = request.query_params
        try:
            filters = _without_user(session_filters(request))
            rows = self.service.my_sessions(user, **filters)
            error = None
        except InvalidInput as exc:
            rows, error = [], exc.errors
        lang = choose_language(request)
        shown = [_shown(r) for r in reversed(rows)]
        total = sum(float(r.get("energy_wh") or 0.0) for r in rows)
        query = "&".join(f"{k}={v}" for k, v in q.items() if k in ("month",) and v)
        return self.r.page(
            request,
            "me.html",
            active="me",
            me=self.service.me(user),
            rows=shown,
            total=energy(total, lang),
            month=q.get("month", ""),
            query=query,
            modes=("off", "now", "minpv", "pv", "plan"),
            errors={e["field"]: message(e, choose_language(request)) for e in error or []},
        )


def _without_user(filters: dict[str, str | None]) -> dict[str, str | None]:
    return {k: v for k, v in filters.items() if k != "user"}


def _shown(r: dict[str, Any]) -> dict[str, Any]:
    return {
        **r,
        "start": local_time(r.get("started_at")),
        "duration": hours_minutes(r.get("duration_s")),
    }

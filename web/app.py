"""The Starlette app: pages, JSON API, live events, all behind the admin login.

`create_app(service)` is the only entry point; the composition root hands in the facade and
serves the result with uvicorn. The login gate is plain ASGI middleware (not BaseHTTPMiddleware)
so that the long-lived SSE stream passes through it untouched.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from manager.service import InvalidInput, NotFound, Service, Throttled, WriteFailed
from web import api, me, ops, pages, users_page
from web.auth import CSRF_HEADER, Authenticator
from web.error_words import message, worded_errors
from web.i18n import choose_language, translator
from web.render import STATIC, Renderer
from web.rules_api import RuleRoutes
from web.station_page import StationPages
from web.transfers_web import TransferRoutes
from web.views import ViewRoutes

log = logging.getLogger(__name__)

PUBLIC_PREFIXES = (
    "/static/",
    "/lang/",
    "/login/link/",
    "/transfer/",
)  # transfer: one-time box URLs
PUBLIC_PATHS = frozenset({"/login", "/favicon.ico", "/robots.txt"}) | ops.PUBLIC
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def retry_after(exc: Throttled) -> str:
    return str(max(1, round(exc.retry_after_s + 0.49)))


def _same_origin(conn: HTTPConnection) -> bool:
    """False when the browser says the request comes from another site."""
    if conn.headers.get("sec-fetch-site", "") == "cross-site":
        return False
    origin = conn.headers.get("origin")
    if origin and origin != "null":
        host = conn.headers.get("host", "")
        return urlsplit(origin).netloc == host
    return True


class LoginGate:
    """Lets only the login page and static files through without a valid login.

    API requests get 401/429 JSON; pages get a redirect to the login page. A state-changing
    request authenticated by the session cookie must carry the page's CSRF token in the
    X-CSRF-Token header (API) or the csrf_token form field (checked by the page handler).
    """

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        is_api = path == "/api" or path.startswith("/api/")
        method = scope["method"]
        try:
            who = await self.auth.identify(conn)
        except Throttled as exc:
            await self._throttled(exc, is_api)(scope, receive, send)
            return
        if who is None:
            await self._unauthorized(conn, is_api)(scope, receive, send)
            return
        if method in UNSAFE_METHODS:
            if not _same_origin(conn):
                log.warning("refused cross-site %s %s", method, path)
                await _json(403, {"error": "cross-site request refused"})(scope, receive, send)
                return
            if is_api and not self.auth.check_csrf(who, conn.headers.get(CSRF_HEADER)):
                body = {"error": "missing or wrong CSRF token (X-CSRF-Token header)"}
                await _json(403, body)(scope, receive, send)
                return
        if who.user is not None and not me.user_may(method, path):
            await me.refuse_user(conn, is_api)(scope, receive, send)
            return
        scope["identity"] = who
        scope["csrf"] = self.auth.csrf_token(who)
        await self.app(scope, receive, send)

    @staticmethod
    def _throttled(exc: Throttled, is_api: bool) -> Response:
        headers = {"retry-after": retry_after(exc)}
        if is_api:
            return _json(429, {"error": "too many failed logins; try again later"}, headers)
        return Response("Too many failed logins.", status_code=429, headers=headers)

    @staticmethod
    def _unauthorized(conn: HTTPConnection, is_api: bool) -> Response:
        if is_api:
            headers = {}
            # browsers (which send Sec-Fetch-*) must not pop up the native Basic dialog;
            # other API clients get the hint how to log in
            if "sec-fetch-mode" not in conn.headers:
                headers["www-authenticate"] = 'Basic realm="ampshare", charset="UTF-8"'
            return _json(401, {"error": "login required"}, headers)
        target = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


class SecurityHeaders:
    """Headers every response gets: no framing, no sniffing, own resources only."""

    CSP = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"content-security-policy": self.CSP.encode(),
                }
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def create_app(service: Service) -> Starlette:
    auth = Authenticator(
        service.session_secret(),
        service.verify_admin,
        ledger=service,
        verify_user=service.verify_user,
    )
    renderer = Renderer()
    json_api = api.Api(service, auth)
    ui = pages.Pages(service, auth, renderer)
    user_ui = users_page.UserPages(service, renderer)
    self_service = me.SelfService(service, auth, renderer)
    operations = ops.Ops(service, renderer)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidInput)
        lang = choose_language(request)
        if _is_api(request):
            return _json(422, {"errors": worded_errors(exc.errors, lang)})
        return ui.error(request, 422, "; ".join(message(e, lang) for e in exc.errors))

    async def not_found(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return _json(404, {"error": str(exc)})
        return ui.error(request, 404, str(exc))

    async def throttled(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Throttled)
        return _json(429, {"error": "too many attempts"}, {"retry-after": retry_after(exc)})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "")
        headers = getattr(exc, "headers", None)  # e.g. Allow on a 405
        if _is_api(request):
            return _json(status, {"error": detail or "error"}, headers)
        if status == 404:
            return ui.error(request, 404, "")
        return Response(str(detail), status_code=status, headers=headers)

    async def write_failed(request: Request, exc: Exception) -> Response:
        """Nothing was changed, in memory or on disk; 507 when the disk is full."""
        assert isinstance(exc, WriteFailed)
        log.error("%s; the change was not made", exc)
        status = 507 if exc.disk_full else 503
        if _is_api(request):
            return _json(status, {"error": f"{exc}; nothing was changed"})
        _ = translator(choose_language(request))
        if exc.disk_full:
            message = _("Could not save: the disk is full. Nothing was changed.")
        else:
            message = _("Could not save: {why}. Nothing was changed.", why=str(exc))
        return ui.error(request, status, message)

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("error in %s %s", request.method, request.url.path)
        if _is_api(request):
            return _json(500, {"error": "internal error; see the manager's log"})
        return Response("Internal error; see the manager's log.", status_code=500)

    routes = [
        *ui.routes(),
        *user_ui.routes(),
        *self_service.routes(),
        *json_api.routes(),
        *operations.routes(),
        *StationPages(service, renderer).routes(),
        *TransferRoutes(service).routes(),
        *ViewRoutes(service, renderer).routes(),
        *RuleRoutes(service).routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(GZipMiddleware, minimum_size=800),
            Middleware(LoginGate, auth=auth),
        ],
        exception_handlers={
            InvalidInput: invalid,
            NotFound: not_found,
            Throttled: throttled,
            WriteFailed: write_failed,
            HTTPException: http_error,
            Exception: crash,
        },
    )
    app.state.auth = auth
    return app

"""Operations over HTTP: health, Prometheus metrics, backup and restore, the log view.

`/api/health` and `/metrics` pass the login gate: health answers only status and version, and
metrics has its own guard (a bearer token from the settings, or else loopback clients only).
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from manager.service import InvalidInput, NotFound, Service, Unavailable
from web.api import int_param, jsonable
from web.i18n import choose_language, translator
from web.render import Renderer

PUBLIC = frozenset({"/api/health", "/metrics"})
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_ARCHIVE = 256 * 1024 * 1024
LOG_LEVELS = ("INFO", "WARNING", "ERROR")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _local(ts: str) -> str:
    try:
        return datetime.fromisoformat(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ts


class Ops:
    def __init__(self, service: Service, renderer: Renderer) -> None:
        self.service = service
        self.r = renderer
        renderer.env.globals["version"] = service.ops.health()["version"]

    def routes(self) -> list[Route]:
        return [
            Route("/api/health", self.health),
            Route("/metrics", self.metrics),
            Route("/api/backup", self.backup),
            Route("/api/restore", self.restore, methods=["POST"]),
            Route("/api/log", self.log),
            Route("/log", self.log_page),
        ]

    async def health(self, request: Request) -> Response:
        body = self.service.ops.health()
        status = 200 if body["status"] == "ok" else 503
        return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})

    async def metrics(self, request: Request) -> Response:
        token = self.service.ops.metrics_token()
        if token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return JSONResponse(
                    {"error": "metrics need the token from the settings (Bearer)"},
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="ampshare metrics"'},
                )
        elif not is_loopback(request.client.host if request.client else None):
            return JSONResponse(
                {"error": "metrics are open to this machine only; set a metrics token"},
                status_code=403,
            )
        try:
            body = self.service.ops.metrics_text()
        except Unavailable as exc:
            raise NotFound(str(exc)) from None
        return Response(body, media_type=METRICS_TYPE, headers={"cache-control": "no-store"})

    async def backup(self, request: Request) -> Response:
        try:
            archive = await self.service.ops.backup()
        except Unavailable as exc:
            raise NotFound(str(exc)) from None
        name = f"ampshare-backup-{datetime.now().strftime('%Y%m%d-%H%M%S')}.tar.gz"
        return Response(
            archive,
            media_type="application/gzip",
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "cache-control": "no-store",
            },
        )

    async def restore(self, request: Request) -> Response:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_ARCHIVE:
                raise InvalidInput.one("archive", "larger than 256 MB")
            chunks.append(chunk)
        if not size:
            raise InvalidInput.one("archive", "send the backup file as the request body")
        try:
            result = await self.service.ops.restore(b"".join(chunks))
        except Unavailable as exc:
            raise NotFound(str(exc)) from None
        return jsonable(result)

    def _level(self, request: Request) -> str:
        level = (request.query_params.get("level") or "INFO").upper()
        if level not in LOG_LEVELS:
            raise InvalidInput.one("level", f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    async def log(self, request: Request) -> Response:
        limit = int_param(request, "limit", 200, 1, 1000)
        return jsonable(self.service.ops.log_lines(self._level(request), limit))

    async def log_page(self, request: Request) -> Response:
        _ = translator(choose_language(request))
        try:
            level = self._level(request)
        except InvalidInput:
            level = "INFO"
        limit = int_param(request, "limit", 200, 1, 1000)
        lines = [
            {**line, "time": _local(line["ts"])}
            for line in self.service.ops.log_lines(level, limit)
        ]
        levels = [(name, _(name.capitalize())) for name in LOG_LEVELS]
        return self.r.page(
            request, "log.html", active="log", lines=lines, level=level, levels=levels
        )

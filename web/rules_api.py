"""The charging rules' API: prices (`/api/prices`) and the external limit
(`/api/limits/charging`). Thin handlers: the facade checks and applies."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from manager.service import Service
from web.api import jsonable, read_json


class RuleRoutes:
    def __init__(self, service: Service) -> None:
        self.service = service

    def routes(self) -> list[Route]:
        return [
            Route("/api/prices", self.prices, methods=["GET", "PUT"]),
            Route("/api/limits/charging", self.limit, methods=["GET", "PUT", "DELETE"]),
        ]

    async def prices(self, request: Request) -> Response:
        if request.method == "PUT":
            return jsonable(await self.service.set_prices(await read_json(request)))
        return jsonable(self.service.prices())

    async def limit(self, request: Request) -> Response:
        if request.method == "PUT":
            return jsonable(await self.service.set_charging_limit(await read_json(request)))
        if request.method == "DELETE":
            await self.service.lift_charging_limit()
            return Response(status_code=204)
        return jsonable(self.service.charging_limit())

"""The users page: RFID users with their tags, rights and limits, and "Add card" (teach-in)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from manager.service import NotFound, Service
from web.i18n import choose_language, translator
from web.pages import local_time
from web.render import Renderer

CHARGE_MODES = ("off", "now", "minpv", "pv", "plan")


class UserPages:
    def __init__(self, service: Service, renderer: Renderer) -> None:
        self.service = service
        self.r = renderer

    def routes(self) -> list[Route]:
        return [Route("/users", self.users), Route("/users/{id}", self.edit_user)]

    def _boxes(self) -> list[dict[str, Any]]:
        return [d for d in self.service.list_devices() if d["kind"] == "evse"]

    def _shown(self, user: dict[str, Any], names: dict[str, str], _: Any) -> dict[str, Any]:
        boxes = ", ".join(names.get(b, b) for b in user["evses"]) or _("all wallboxes")
        expires = local_time(user["expires"]) if user.get("expires") else _("never")
        return {**user, "boxes": boxes, "expires_text": expires}

    async def users(self, request: Request) -> Response:
        _ = translator(choose_language(request))
        boxes = self._boxes()
        names = {d["id"]: d["name"] for d in boxes}
        users = [self._shown(u, names, _) for u in self.service.list_users()]
        return self.r.page(
            request,
            "users.html",
            active="users",
            users=users,
            boxes=boxes,
            modes=CHARGE_MODES,
            teach=self.service.teach_in_status(),
        )

    async def edit_user(self, request: Request) -> Response:
        try:
            user = self.service.get_user(request.path_params["id"])
        except NotFound as exc:
            _ = translator(choose_language(request))
            title = _("Page not found.")
            return self.r.page(request, "error.html", 404, title=title, message=str(exc))
        return self.r.page(
            request,
            "user.html",
            active="users",
            user=user,
            boxes=self._boxes(),
            modes=CHARGE_MODES,
            teach=self.service.teach_in_status(),
        )

"""The JSON API under /api: thin handlers that parse input and call the facade.

Validation lives in the facade (one set of rules for API, forms and CLI); this layer only turns
HTTP into calls and exceptions into status codes (422 naming the field, 404, 429).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from manager.model import StationOffline, StationTimeout
from manager.service import InvalidInput, Service
from web.auth import Authenticator, Identity, set_session_cookie
from web.finite import FiniteJSONResponse as JSONResponse
from web.finite import dumps
from web.i18n import choose_language
from web.openapi import document
from web.wording import shown

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
#: no stored object nests deeper; a deeper body is refused before it reaches any validation
MAX_DEPTH = 32


def jsonable(data: Any) -> JSONResponse:
    return JSONResponse(data, headers={"cache-control": "no-store"})


async def read_json(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInput.one("body", f"larger than {MAX_BODY // 1024} KB")
    if not body.strip():
        raise InvalidInput.one("body", "expected a JSON object")
    too_deep = InvalidInput.one("body", f"nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(body, parse_constant=_not_a_number, parse_float=_finite_float)
    except RecursionError:
        raise too_deep from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput.one("body", f"not valid JSON: {exc}") from None
    if _depth(data) > MAX_DEPTH:
        raise too_deep
    return data


def _not_a_number(text: str) -> float:
    raise ValueError(f"{text} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _depth(data: Any) -> int:
    """How deep lists and objects nest in `data` (without recursion)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            if level <= MAX_DEPTH:
                todo.extend((v, level + 1) for v in children)
    return deepest


def download(text: str, media: str, filename: str) -> Response:
    return Response(
        text,
        media_type=f"{media}; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
        },
    )


async def read_object(request: Request) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput.one("body", "expected a JSON object")
    return data


def parse_when(value: str | None, field: str, *, end_of_day: bool = False) -> str | None:
    """ISO time as given, or a date (local midnight; the day after for `until`) as UTC ISO."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time()).astimezone().isoformat()
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput.one(field, "expected a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return dt.isoformat()


def session_filters(request: Request) -> dict[str, str | None]:
    q = request.query_params
    unknown = set(q) - {"since", "until", "evse", "user", "month"}
    if unknown:
        raise InvalidInput([{"field": k, "message": "unknown filter"} for k in sorted(unknown)])
    since, until = q.get("since"), q.get("until")
    if q.get("month"):
        since, until = month_range(q["month"])
    return {
        "since": parse_when(since, "since"),
        "until": parse_when(until, "until", end_of_day=not q.get("month")),
        "evse": q.get("evse") or None,
        "user": q.get("user") or None,
    }


def month_range(month: str) -> tuple[str, str]:
    """`YYYY-MM` as the first day of that month and of the next (local dates)."""
    try:
        first = datetime.strptime(month.strip(), "%Y-%m")
    except ValueError:
        raise InvalidInput.one("month", "expected YYYY-MM") from None
    after = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else (first.replace(month=first.month + 1))
    )
    return first.strftime("%Y-%m-%d"), after.strftime("%Y-%m-%d")


def export_name(kind: str, request: Request, ext: str) -> str:
    """ampshare-sessions[-user][-month].csv: the file says whose and which month it holds."""
    q = request.query_params
    parts = [f"ampshare-{kind}"]
    for key in ("user", "month"):
        if q.get(key):
            parts.append(re.sub(r"[^A-Za-z0-9_-]+", "_", q[key])[:40])
    if len(parts) == 1:
        parts.append(datetime.now().strftime("%Y-%m-%d"))
    return "-".join(parts) + ext


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput.one(name, "expected a whole number") from None
    if not lo <= value <= hi:
        raise InvalidInput.one(name, f"must be between {lo} and {hi}")
    return value


async def sse_stream(service: Service, lang: str = "en") -> AsyncIterator[str]:
    """Server-Sent Events: one `data:` line of JSON per state snapshot, reasons in `lang`."""
    yield "retry: 2000\n\n"
    last: object = None
    async for snapshot in service.subscribe():
        if snapshot is last:
            continue  # the same snapshot can arrive twice right after subscribing
        last = snapshot
        yield f"data: {dumps(shown(snapshot, lang), separators=(',', ':'))}\n\n"


def who(request: Request) -> str:
    """The admin as the audit log names them: how they logged in, and from where."""
    via = request.scope["identity"].via
    client = request.client.host if request.client else "?"
    return f"admin ({via}, {client})"


class Api:
    def __init__(self, service: Service, auth: Authenticator) -> None:
        self.service = service
        self.auth = auth

    def routes(self) -> list[Route]:
        return [
            Route("/api/state", self.state),
            Route("/api/devices", self.devices, methods=["GET", "POST"]),
            Route("/api/devices/test", self.test_device, methods=["POST"]),
            Route("/api/devices/{id}", self.device, methods=["GET", "PATCH", "DELETE"]),
            Route("/api/devices/{id}/start", self.start_as_user, methods=["POST"]),
            Route("/api/circuits", self.circuits, methods=["GET", "POST"]),
            Route("/api/circuits/{id}", self.circuit, methods=["GET", "PATCH", "DELETE"]),
            Route("/api/settings", self.settings, methods=["GET", "PATCH"]),
            Route("/api/schemas", self.schemas),
            Route("/api/sessions", self.sessions),
            Route("/api/sessions.csv", self.sessions_csv),
            Route("/api/sessions/totals", self.sessions_totals),
            Route("/api/sessions/signed", self.sessions_signed),
            Route("/api/users", self.users, methods=["GET", "POST"]),
            Route("/api/users/{id}", self.user, methods=["GET", "PATCH", "DELETE"]),
            Route("/api/teach-in", self.teach_in, methods=["GET", "POST", "DELETE"]),
            Route("/api/events", self.events),
            Route("/api/events/log", self.events_log),
            Route("/api/drivers", self.drivers),
            Route("/api/history", self.history),
            Route("/api/ocpp/certificate", self.certificate, methods=["GET", "POST"]),
            Route("/api/admin/password", self.admin_password, methods=["POST"]),
            Route("/api/openapi.json", self.openapi),
            Route("/api/stations/{charge_box_id}", self.station),
            Route("/api/stations/{charge_box_id}/{action}", self.station_action, methods=["POST"]),
            Route("/api/audit", self.audit),
        ]

    async def state(self, request: Request) -> Response:
        return jsonable(shown(self.service.state(), choose_language(request)))

    async def devices(self, request: Request) -> Response:
        if request.method == "POST":
            created = await self.service.create_device(await read_object(request))
            return JSONResponse(created, status_code=201)
        return jsonable(self.service.list_devices())

    async def device(self, request: Request) -> Response:
        device_id = request.path_params["id"]
        if request.method == "PATCH":
            return jsonable(await self.service.update_device(device_id, await read_object(request)))
        if request.method == "DELETE":
            await self.service.delete_device(device_id)
            return Response(status_code=204)
        return jsonable(self.service.get_device(device_id))

    async def test_device(self, request: Request) -> Response:
        return jsonable(await self.service.test_device(await read_object(request)))

    async def circuits(self, request: Request) -> Response:
        if request.method == "POST":
            created = await self.service.create_circuit(await read_object(request))
            return JSONResponse(created, status_code=201)
        return jsonable(self.service.list_circuits())

    async def circuit(self, request: Request) -> Response:
        circuit_id = request.path_params["id"]
        if request.method == "PATCH":
            patch = await read_object(request)
            return jsonable(await self.service.update_circuit(circuit_id, patch))
        if request.method == "DELETE":
            await self.service.delete_circuit(circuit_id)
            return Response(status_code=204)
        return jsonable(self.service.get_circuit(circuit_id))

    async def settings(self, request: Request) -> Response:
        if request.method == "PATCH":
            return jsonable(await self.service.update_settings(await read_object(request)))
        return jsonable(self.service.get_settings())

    async def schemas(self, request: Request) -> Response:
        return jsonable(
            {
                "device": {k: self.service.device_schema(k) for k in ("evse", "meter")},
                "settings": self.service.settings_schema(),
            }
        )

    async def sessions(self, request: Request) -> Response:
        return jsonable(self._sessions(request))

    def _sessions(self, request: Request) -> list[dict[str, Any]]:
        filters = session_filters(request)
        try:
            return self.service.list_sessions(**filters)
        except ValueError as exc:
            raise InvalidInput.one("since", str(exc)) from None

    async def sessions_csv(self, request: Request) -> Response:
        filters = session_filters(request)
        try:
            text = self.service.sessions_csv(**filters)
        except ValueError as exc:
            raise InvalidInput.one("since", str(exc)) from None
        return download(text, "text/csv", export_name("sessions", request, ".csv"))

    async def sessions_totals(self, request: Request) -> Response:
        """Sessions and energy per user and month, over the same filters."""
        return jsonable(self.service.session_totals(self._sessions(request)))

    async def sessions_signed(self, request: Request) -> Response:
        """The signed meter data (OCMF etc.) as the boxes sent it, one record per line."""
        text = self.service.signed_export(self._sessions(request))
        return download(text, "text/plain", export_name("signed", request, ".txt"))

    async def users(self, request: Request) -> Response:
        if request.method == "POST":
            created = await self.service.create_user(await read_object(request))
            return JSONResponse(created, status_code=201)
        return jsonable(self.service.list_users())

    async def user(self, request: Request) -> Response:
        user_id = request.path_params["id"]
        if request.method == "PATCH":
            return jsonable(await self.service.update_user(user_id, await read_object(request)))
        if request.method == "GET":
            return jsonable(self.service.get_user(user_id))
        await self.service.delete_user(user_id)
        return Response(status_code=204)

    async def teach_in(self, request: Request) -> Response:
        """POST {"user": id} opens the 60 s window, GET shows it, DELETE cancels it."""
        if request.method == "POST":
            body = await read_object(request)
            return jsonable(self.service.start_teach_in(body.get("user")))
        if request.method == "DELETE":
            return jsonable(self.service.cancel_teach_in())
        return jsonable(self.service.teach_in_status())

    async def events(self, request: Request) -> Response:
        return StreamingResponse(
            sse_stream(self.service, choose_language(request)),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def events_log(self, request: Request) -> Response:
        limit = int_param(request, "limit", 200, 1, 1000)
        return jsonable(self.service.recent_events(limit))

    async def drivers(self, request: Request) -> Response:
        return jsonable(self.service.drivers())

    async def history(self, request: Request) -> Response:
        hours = int_param(request, "hours", 24, 1, 24 * 7)
        return jsonable(self.service.history(hours))

    async def certificate(self, request: Request) -> Response:
        if request.method == "POST":
            cert, key = await self._pem_pair(request)
            await self.service.import_certificate(cert, key)
            return jsonable({"ok": True})
        return PlainTextResponse(
            self.service.certificate_pem(),
            media_type="application/x-pem-file",
            headers={"content-disposition": 'attachment; filename="ampshare-ocpp.pem"'},
        )

    async def _pem_pair(self, request: Request) -> tuple[str, str]:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            values = await self._pem_form(request)
        else:
            values = await read_object(request)
        errors = [
            {"field": f, "message": "expected PEM text"}
            for f in ("cert_pem", "key_pem")
            if not isinstance(values.get(f), str) or "-----BEGIN" not in values[f]
        ]
        if errors:
            raise InvalidInput(errors)
        return values["cert_pem"], values["key_pem"]

    @staticmethod
    async def _pem_form(request: Request) -> dict[str, Any]:
        values: dict[str, Any] = {}
        try:
            async with request.form(max_files=2, max_fields=4) as form:
                for field in ("cert_pem", "key_pem"):
                    item = form.get(field)
                    if item is not None and not isinstance(item, str):
                        values[field] = (await item.read(MAX_BODY)).decode("utf-8", "replace")
                    else:
                        values[field] = item
        except HTTPException as exc:  # a malformed form is bad input like any other
            raise InvalidInput.one("body", str(exc.detail)) from None
        return values

    async def admin_password(self, request: Request) -> Response:
        data = await read_object(request)
        old, new = data.get("old_password"), data.get("new_password")
        errors = [
            {"field": f, "message": "expected text"}
            for f, v in (("old_password", old), ("new_password", new))
            if not isinstance(v, str)
        ]
        if errors:
            raise InvalidInput(errors)
        await self.service.set_admin_password(str(old), str(new))  # ends every session
        self.auth.forget_credentials()
        log.info("admin password changed; other sessions ended")
        if request.scope["identity"].via != "cookie":
            return jsonable({"ok": True})
        # this browser stays logged in with a fresh session (and a fresh CSRF token)
        cookie, sid = self.auth.new_session()
        csrf = self.auth.csrf_token(Identity("cookie", sid))
        resp = jsonable({"ok": True, "csrf": csrf})
        set_session_cookie(resp, request, cookie)
        return resp

    async def station(self, request: Request) -> Response:
        return jsonable(self.service.station(request.path_params["charge_box_id"]))

    async def station_action(self, request: Request) -> Response:
        """An admin action on a connected box: its answer, 409 offline, 504 no answer."""
        params = await read_object(request) if (await request.body()).strip() else {}
        cb_id, action = request.path_params["charge_box_id"], request.path_params["action"]
        try:
            answer = await self.service.station_action(cb_id, action, params, who(request))
        except StationOffline as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except StationTimeout as exc:
            return JSONResponse({"error": str(exc)}, status_code=504)
        return jsonable(answer)

    async def start_as_user(self, request: Request) -> Response:
        """POST {"user": id}: start charging at this wallbox as that user (admin only)."""
        body = await read_object(request)
        try:
            answer = await self.service.start_for_user(
                request.path_params["id"], body.get("user"), who(request)
            )
        except StationOffline as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except StationTimeout as exc:
            return JSONResponse({"error": str(exc)}, status_code=504)
        return jsonable(answer)

    async def audit(self, request: Request) -> Response:
        limit = int_param(request, "limit", 200, 1, 1000)
        return jsonable(self.service.audit_log(limit, request.query_params.get("box") or None))

    async def openapi(self, request: Request) -> Response:
        return jsonable(document())

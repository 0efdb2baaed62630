"""A straightforward central system on the `ocpp` library, as the docs show it: the yardstick.

Every message goes through ChargePoint.start(): full JSON-schema validation of request and
response in the default thread pool, one message at a time.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed


def _now() -> str:
    return datetime.now(UTC).isoformat()


class BaselineChargePoint(ChargePoint):
    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> Any:
        return call_result.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()


async def _handler(ws: ServerConnection) -> None:
    cp_id = (ws.request.path if ws.request else "/").rstrip("/").rsplit("/", 1)[-1]
    cp = BaselineChargePoint(cp_id, ws)
    with contextlib.suppress(ConnectionClosed):
        await cp.start()


async def serve_baseline(host: str, port: int) -> Server:
    # same transport settings as ampshare's server, so only the OCPP handling differs
    return await serve(_handler, host, port, subprotocols=["ocpp1.6"], compression=None)  # type: ignore[list-item]

"""Reasons on the display: OCPP 2.0.1 boxes with a display show why they get their current
(for example "paused: solar surplus too small"), when the admin switched the option on.

Sent with SetDisplayMessage under a fixed message id per connector, so each update replaces
the last one; only when the reason changed, and at most every MIN_INTERVAL_S per connector.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from manager.model import StationActions, StationInputError, StationOffline, StationTimeout

log = logging.getLogger(__name__)

#: message ids ampshare uses on a box's display (+ connector)
MESSAGE_ID = 19520
MIN_INTERVAL_S = 30.0


def _words(reason: Any) -> str | None:
    """The reason as a sentence (a reason given as data shows its text or its code)."""
    if isinstance(reason, dict):
        reason = reason.get("text") or reason.get("code")
    return str(reason) if reason else None


class ReasonDisplay:
    def __init__(
        self,
        actions: StationActions,
        devices: Callable[[], list[dict[str, Any]]],
        enabled: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.actions = actions
        self.devices = devices
        self.enabled = enabled
        self.clock = clock
        self._shown: dict[tuple[str, int], tuple[str, float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, snapshot: dict[str, Any]) -> None:
        """After each control cycle: send the reasons that changed."""
        if not self.enabled():
            return
        boxes = {
            str(d["id"]): (str(d.get("address")), int(d.get("connector_id", 1)))
            for d in self.devices()
            if d.get("driver") == "ocpp" and d.get("kind") == "evse" and d.get("address")
        }
        for evse in snapshot.get("evses") or []:
            where = boxes.get(str(evse.get("id")))
            reason = _words(evse.get("reason"))
            if where is None or not reason or not self._due(where, str(reason)):
                continue
            info = self.actions.identity(where[0])
            if info is None or not info.get("connected") or info.get("protocol") != "2.0.1":
                continue
            self._shown[where] = (str(reason), self.clock())
            text = f"{evse.get('name') or evse.get('id')}: {reason}"[:512]
            task = asyncio.get_running_loop().create_task(self._send(where, text))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _due(self, where: tuple[str, int], reason: str) -> bool:
        last = self._shown.get(where)
        return last is None or (last[0] != reason and self.clock() - last[1] >= MIN_INTERVAL_S)

    async def _send(self, where: tuple[str, int], text: str) -> None:
        cb_id, connector = where
        params = {"operation": "set", "id": MESSAGE_ID + connector, "message": text}
        try:
            answer = await self.actions.run(cb_id, "display", params)
        except (StationOffline, StationTimeout, StationInputError) as exc:
            log.info("%s: reason not shown on the display: %s", cb_id, exc)
            return
        if answer["status"] != "Accepted":
            log.info("%s: display refused the reason (%s)", cb_id, answer["status"])

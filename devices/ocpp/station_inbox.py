"""What boxes send on their own after an admin action: report parts and transfer progress.

A report (2.0.1 NotifyReport, ReportChargingProfiles, NotifyDisplayMessages) arrives in parts
after the box accepted the request; the parts are collected by request id until one comes
without `tbc`. Firmware and log transfers report their progress in status notifications; the
latest status per box is kept for the Station page. Everything is bounded and in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: parts one report may have; a box that sends more is cut off there
MAX_PARTS = 2000
#: status lines kept per box and transfer kind
MAX_STEPS = 50


@dataclass
class Collection:
    parts: list[dict[str, Any]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Transfer:
    """One firmware or log transfer of a box: its status notifications, newest last."""

    kind: str  # "firmware" | "logs"
    request_id: int | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str | None:
        return self.steps[-1]["status"] if self.steps else None


#: a Certificate signer: (charge box id, CSR PEM) -> certificate chain PEM; raises ValueError
Signer = Callable[[str, str], str]


class StationInbox:
    def __init__(self) -> None:
        self._open: dict[tuple[str, str, int], Collection] = {}
        self.transfers: dict[tuple[str, str], Transfer] = {}
        #: signs CSRs of boxes (security profile 3); None: ampshare has no CA
        self.signer: Signer | None = None
        #: fixed tariff for the running cost on 2.0.1 boxes (None: no cost shown)
        self.tariff_per_kwh: float | None = None
        #: told when a box says a reservation expired or was removed (2.0.1)
        self.on_reservation_end: Callable[[int], object] | None = None

    # ------------------------------------------------------------------ reports in parts

    def expect(self, cb_id: str, kind: str, request_id: int) -> Collection:
        coll = self._open[(cb_id, kind, request_id)] = Collection()
        return coll

    def forget(self, cb_id: str, kind: str, request_id: int) -> None:
        self._open.pop((cb_id, kind, request_id), None)

    def collect(self, cb_id: str, kind: str, payload: dict[str, Any]) -> None:
        """One part of a report; parts nobody waits for are dropped."""
        rid = payload.get("requestId")
        coll = self._open.get((cb_id, kind, rid)) if isinstance(rid, int) else None
        if coll is None:
            log.info("%s: %s part for request %s nobody waits for", cb_id, kind, rid)
            return
        if len(coll.parts) < MAX_PARTS:
            coll.parts.append(payload)
        if not payload.get("tbc") or len(coll.parts) >= MAX_PARTS:
            coll.done.set()

    async def gather(self, coll: Collection, wait_s: float) -> tuple[list[dict[str, Any]], bool]:
        """The parts collected within `wait_s`, and whether the report is complete."""
        try:
            async with asyncio.timeout(wait_s):
                await coll.done.wait()
        except TimeoutError:
            return list(coll.parts), False
        return list(coll.parts), True

    # ------------------------------------------------------------------ transfers

    def start_transfer(self, cb_id: str, kind: str, request_id: int | None) -> Transfer:
        transfer = self.transfers[(cb_id, kind)] = Transfer(kind, request_id)
        self.step(cb_id, kind, "Requested", {})
        return transfer

    def step(self, cb_id: str, kind: str, status: str, payload: dict[str, Any]) -> None:
        """A status notification of a transfer (also one the box sends unasked)."""
        transfer = self.transfers.get((cb_id, kind))
        if transfer is None:
            transfer = self.transfers[(cb_id, kind)] = Transfer(kind, payload.get("requestId"))
        entry = {"status": str(status), "at": time.time()}
        if payload.get("statusInfo"):
            entry["info"] = payload["statusInfo"]
        transfer.steps.append(entry)
        del transfer.steps[:-MAX_STEPS]
        log.info("%s: %s status %s", cb_id, kind, status)

    def transfer(self, cb_id: str, kind: str) -> Transfer | None:
        return self.transfers.get((cb_id, kind))

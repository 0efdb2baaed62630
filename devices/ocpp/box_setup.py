"""Setting a box up after it connected: capabilities, control, meter values, a first status.

Part of every connection (a mixin of OcppConnection), written once for both versions; the
version supplies `read_setup`, `set_meter` and its `STATUS_TRIGGER`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from devices.ocpp.meter import CURRENT, ENERGY, POWER, VOLTAGE
from devices.ocpp.profiles import clear_profile_request
from devices.ocpp.state import DEFAULT_PROFILE_BASE, TX_PROFILE_BASE

if TYPE_CHECKING:
    from devices.ocpp.connection import Host
    from devices.ocpp.state import ChargePointRecord

log = logging.getLogger("devices.ocpp.connection")

#: what ampshare asks every box to measure (those it accepts)
WANTED_MEASURANDS = (ENERGY, POWER, CURRENT, VOLTAGE)


class BoxSetup:
    """after_connect and the meter configuration; needs the connection's requests."""

    host: Host
    record: ChargePointRecord
    id: str
    version: ClassVar[str]
    status_seen: asyncio.Event
    STATUS_GRACE_S: ClassVar[float]
    #: the version's TriggerMessage asking for a StatusNotification
    STATUS_TRIGGER: ClassVar[dict[str, Any]]

    async def take_control(self) -> None:
        raise NotImplementedError

    async def try_request(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        raise NotImplementedError

    async def read_setup(self) -> dict[str, Any]:
        """Read the box's capabilities; returns its meter settings: interval, measurands."""
        raise NotImplementedError

    async def set_meter(self, which: str, value: str) -> str | None:
        """Set the meter "interval" or "measurands"; the box's status (None: no answer)."""
        raise NotImplementedError

    async def after_connect(self) -> None:
        """Capabilities, default-deny, meter setup; a box that sent no status is asked for one."""
        meter = await self.read_setup()
        await self.take_control()
        if not self.host.is_known(self.id):  # leave no profile of ours on a box not ours
            for c in range(1, (self.record.caps.connectors or 1) + 1):
                for pid in (DEFAULT_PROFILE_BASE + c, TX_PROFILE_BASE + c):
                    payload = clear_profile_request(self.version, pid)
                    await self.try_request("ClearChargingProfile", payload)
        await self.configure_meter(meter)
        if not self.status_seen.is_set():
            try:
                async with asyncio.timeout(self.STATUS_GRACE_S):
                    await self.status_seen.wait()
            except TimeoutError:
                log.info("%s: no StatusNotification yet, triggering one", self.id)
                await self.try_request("TriggerMessage", self.STATUS_TRIGGER)

    async def configure_meter(self, meter: dict[str, Any]) -> None:
        """Sample interval, then the measurands; some boxes reject one unknown measurand and
        with it the whole list, so they are probed one by one, keeping those accepted."""
        interval = str(self.host.settings.sample_interval_s)
        if str(meter.get("interval")) != interval:
            await self.set_meter("interval", interval)
        current = [m.strip() for m in str(meter.get("measurands") or "").split(",")]
        if all(m in current for m in WANTED_MEASURANDS):
            self.record.caps.measurands = WANTED_MEASURANDS
            return
        accepted: list[str] = []
        for measurand in WANTED_MEASURANDS:
            status = await self.set_meter("measurands", ",".join([*accepted, measurand]))
            if status in ("Accepted", "RebootRequired"):
                accepted.append(measurand)
            elif status is None:
                break
        self.record.caps.measurands = tuple(accepted)
        log.info("%s: meter values %s", self.id, ",".join(accepted) or "none accepted")

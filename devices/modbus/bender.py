"""Bender CC612/CC613 charge controllers: Modbus TCP, port 502, unit 255, holding registers.

The controller inside Mennekes AMTRON (Xtra, Premium, Professional), Webasto Live, Ebee and
others. Its "Modbus TCP server for energy management systems" must be on, with the register
set "Ebee/Bender/Mennekes" (not "Phoenix" or "TQ-DM100"). The register map is in
docs/devices.md.

The box has an RFID reader: with "Allow UID disclose" on, the card of the running session is
in registers 720..729, and ampshare authorizes it like an OCPP box's tag (manager.model.ReadsTags).

Safety net: the box's own "safe current" (131), taken when the energy manager has been silent
for its "communication timeout" (132). Both are set in the box's web interface; ampshare reads
them and shows them, it does not change them.
"""

from __future__ import annotations

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.codec import text, u32
from devices.modbus.wallbox import ModbusWallbox, WallboxOptions
from manager.model import ChargeStatus, DeviceSpec, EvseReading, Reason

REG_STATE = 122  # vehicle state: 1 A, 2 B, 3 C, 4 D; other values are errors
REG_SAFE = 131  # safe current (A), then communication timeout (s), then hardware limit (A)
REG_METER, METER_COUNT = 200, 28  # 200..227: energy, power, current (mA), total, voltage
REG_UID, UID_COUNT = 720, 10  # user id of the session (OCPP idTag): 20 ASCII characters
REG_LIMIT = 1000  # HEMS current limit (A); 0 pauses
STATES = {
    1: ChargeStatus.NO_CAR,
    2: ChargeStatus.CONNECTED,
    3: ChargeStatus.CHARGING,
    4: ChargeStatus.CHARGING,  # D: with ventilation
}


class BenderOptions(WallboxOptions):
    unit_id: int = Field(255, ge=0, le=255, description="Modbus unit id (255 on these boxes)")
    read_rfid: bool = Field(
        True,
        description='Read the RFID card of the session (needs "Allow UID disclose" on the box)',
    )


def uid_of(regs: list[int]) -> str | None:
    """The card in registers 720..729: printable ASCII, or None when no card is shown."""
    uid = text(regs)
    return uid if uid and uid.isascii() and uid.isprintable() else None


class Bender(ModbusWallbox):
    default_port = 502
    resolution_a = 1.0

    def __init__(self, spec: DeviceSpec, opts: BenderOptions, ctx: DeviceContext) -> None:
        super().__init__(spec, opts, ctx)
        self.reads_tags = opts.read_rfid
        self.hw_max_a = 32.0

    async def _setup(self) -> str:
        safe, timeout_s, hw_max = await self._u().read_holding(REG_SAFE, 3)
        if 6 <= hw_max <= 80:
            self.hw_max_a = float(hw_max)
        return f"box falls back to {safe} A after {timeout_s} s without ampshare (set on the box)"

    async def _read(self) -> EvseReading:
        unit = self._u()
        state = (await unit.read_holding(REG_STATE, 1))[0]
        m = await unit.read_holding(REG_METER, METER_COUNT)
        status = STATES.get(state, ChargeStatus.ERROR)

        def value(offset: int) -> int | None:
            return u32(m[offset : offset + 2])

        amps = tuple((value(12 + 2 * i) or 0) / 1000.0 for i in range(3))
        volts = tuple(None if (v := value(22 + 2 * i)) is None else float(v) for i in range(3))
        total = value(18)
        energy = float(total) if total is not None else None
        power = float(value(20) or 0)
        user = None
        if self.reads_tags and status is not ChargeStatus.NO_CAR:
            user = uid_of(await unit.read_holding(REG_UID, UID_COUNT))
        detail = None
        if status is ChargeStatus.ERROR:
            detail = f"box state {state}"
        return EvseReading(
            status=status,
            current_a=(amps[0], amps[1], amps[2]),
            voltage_v=(volts[0], volts[1], volts[2]),
            power_w=power,
            session_wh=self.session.update(status, energy, power),
            energy_wh=energy,
            user=user,
            detail=detail,
        )

    async def _apply(self, setpoint_a: float, phases: int) -> None:
        amps = self._clamp(setpoint_a, 6.0, self.hw_max_a)
        await self._u().write_registers(REG_LIMIT, [int(amps)])

    async def deactivate(self) -> Reason:
        amps = int(min(self.wopts.release_current_a, self.hw_max_a))
        await self._u().write_registers(REG_LIMIT, [amps])
        self._setup_at = None
        return Reason("charging_enabled", {"amps": amps})


def _build(spec: DeviceSpec, opts: BenderOptions, ctx: DeviceContext) -> Bender:
    return Bender(spec, opts, ctx)


DRIVERS = (
    Driver("bender", "evse", "Bender CC612/CC613 (Mennekes, Webasto, Ebee)", BenderOptions, _build),
)

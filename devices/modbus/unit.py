"""One Modbus device (a unit id on a shared bus): its timeout, retries and offline back-off.

Drivers talk to their device only through ModbusUnit, which turns every failure into a
DeviceError carrying the exact last error. A unit that stopped answering is tried only now
and then (back-off up to the pool's maximum), so it does not eat the bus time of the healthy
devices beside it on a serial line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, model_validator

from devices.driver import DeviceContext, DriverOptions
from devices.modbus.address import AddressError, BusAddress, SerialSettings, parse_address
from devices.modbus.bus import Bus, ModbusReplyError, Op
from manager.model import DeviceError, DeviceSpec

log = logging.getLogger(__name__)

#: consecutive failures after which a unit is only retried after a back-off delay
_OFFLINE_AFTER = 3


class ModbusOptions(DriverOptions):
    """Fields every Modbus driver has; drivers subclass it to change defaults or add fields."""

    unit_id: int = Field(1, ge=0, le=255, description="Modbus unit id (slave address)")
    timeout_s: float = Field(1.0, gt=0, le=30, description="Seconds to wait for an answer")
    retries: int = Field(1, ge=0, le=5, description="Extra attempts after a timeout")

    @model_validator(mode="before")
    @classmethod
    def _check_address(cls, data: Any) -> Any:
        """Reject an address that can never work when the device is saved, not at run time."""
        if isinstance(data, Mapping) and isinstance(data.get("address"), str):
            if data["address"].strip():
                try:
                    parse_address(data["address"])
                except AddressError as exc:
                    raise ValueError(str(exc)) from None
        return data


class ModbusUnit:
    def __init__(
        self,
        bus: Bus,
        unit_id: int,
        *,
        timeout_s: float,
        retries: int,
        name: str,
        repeat: bool = False,
    ) -> None:
        self.bus = bus
        self.unit_id = unit_id
        self.timeout_s = timeout_s
        self.retries = retries
        self.name = name
        #: send every request twice and keep the second answer (ABL wakes up on the first)
        self.repeat = repeat
        self.last_error: str | None = None
        self._fails = 0
        self._skip_until = 0.0

    async def _call(self, what: str, op: Op) -> Any:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now < self._skip_until and self.last_error:
            raise DeviceError(
                f"{self.last_error} (not answering; next try in {self._skip_until - now:.1f} s)"
            )
        what = f"{what} (unit {self.unit_id})"
        attempts = 1 + (self.retries if self._fails < _OFFLINE_AFTER else 0)
        error: DeviceError | None = None
        for _ in range(attempts):
            try:
                if self.repeat:
                    try:
                        await self.bus.execute(what, op, self.timeout_s)
                    except DeviceError:
                        pass
                response = await self.bus.execute(what, op, self.timeout_s)
            except ModbusReplyError as exc:
                self._ok()  # it answered: the unit is alive, the request was wrong
                raise exc from None
            except DeviceError as exc:
                error = exc
                continue
            self._ok()
            return response
        assert error is not None
        self._failed(str(error), loop.time())
        raise error

    def _ok(self) -> None:
        if self._fails >= _OFFLINE_AFTER:
            log.info("%s answers again", self.name)
        self._fails = 0
        self._skip_until = 0.0
        self.last_error = None

    def _failed(self, message: str, now: float) -> None:
        self._fails += 1
        self.last_error = message
        if self._fails == 1:
            log.warning("%s: %s", self.name, message)
        if self._fails >= _OFFLINE_AFTER:
            delay = min(self.bus.backoff_max_s, 0.5 * 2 ** (self._fails - _OFFLINE_AFTER))
            self._skip_until = now + delay

    @staticmethod
    def _regs(response: Any, count: int, what: str) -> list[int]:
        regs = list(response.registers or [])
        if len(regs) < count:
            raise DeviceError(f"{what}: short answer ({len(regs)} of {count} registers)")
        return regs[:count]

    async def read_input(self, address: int, count: int) -> list[int]:
        what = f"reading input registers {address}+{count}"
        uid = self.unit_id
        rr = await self._call(
            what, lambda c: c.read_input_registers(address, count=count, device_id=uid)
        )
        return self._regs(rr, count, what)

    async def read_holding(self, address: int, count: int) -> list[int]:
        what = f"reading holding registers {address}+{count}"
        uid = self.unit_id
        rr = await self._call(
            what, lambda c: c.read_holding_registers(address, count=count, device_id=uid)
        )
        return self._regs(rr, count, what)

    async def read(self, table: str, address: int, count: int) -> list[int]:
        if table == "input":
            return await self.read_input(address, count)
        return await self.read_holding(address, count)

    async def read_coils(self, address: int, count: int = 1) -> list[bool]:
        what = f"reading coils {address}+{count}"
        uid = self.unit_id
        rr = await self._call(what, lambda c: c.read_coils(address, count=count, device_id=uid))
        bits = list(rr.bits or [])
        if len(bits) < count:
            raise DeviceError(f"{what}: short answer")
        return [bool(b) for b in bits[:count]]

    async def write_register(self, address: int, value: int) -> None:
        uid = self.unit_id
        await self._call(
            f"writing register {address}={value}",
            lambda c: c.write_register(address, value & 0xFFFF, device_id=uid),
        )

    async def write_registers(self, address: int, values: Sequence[int]) -> None:
        uid = self.unit_id
        vals = [v & 0xFFFF for v in values]
        await self._call(
            f"writing registers {address}={vals}",
            lambda c: c.write_registers(address, vals, device_id=uid),
        )

    async def write_coil(self, address: int, value: bool) -> None:
        uid = self.unit_id
        await self._call(
            f"writing coil {address}={int(value)}",
            lambda c: c.write_coil(address, value, device_id=uid),
        )


def plan_reads(spans: Sequence[tuple[int, int]], max_count: int) -> list[tuple[int, int]]:
    """Merge (address, count) spans that touch into as few requests of <= max_count as possible.

    Only spans that are adjacent or overlapping are merged: reading registers between them could
    hit undefined addresses, which many meters answer with an exception.
    """
    out: list[tuple[int, int]] = []
    for start, count in sorted(spans):
        if out:
            s, n = out[-1]
            end = max(s + n, start + count)
            if start <= s + n and end - s <= max_count:
                out[-1] = (s, end - s)
                continue
        while count > max_count:
            out.append((start, max_count))
            start, count = start + max_count, count - max_count
        out.append((start, count))
    return out


class RegisterCache:
    """Registers read in one poll, looked up by address."""

    def __init__(self) -> None:
        self.regs: dict[int, int] = {}

    async def fill(
        self, unit: ModbusUnit, table: str, spans: Sequence[tuple[int, int]], max_count: int
    ) -> RegisterCache:
        for start, count in plan_reads(spans, max_count):
            values = await unit.read(table, start, count)
            for i, v in enumerate(values):
                self.regs[start + i] = v
        return self

    def get(self, address: int, count: int) -> list[int]:
        return [self.regs[address + i] for i in range(count)]


class ModbusDevice:
    """Common life cycle of a Modbus driver object: bus from the pool, address errors kept.

    A bad address or a missing bus pool does not fail the factory (start-up must never break on
    one device); every read/apply raises DeviceError with the reason instead.
    """

    default_port = 502
    default_serial = SerialSettings()
    gap_s = 0.05
    repeat = False

    def __init__(self, spec: DeviceSpec, opts: ModbusOptions, ctx: DeviceContext) -> None:
        self.spec = spec
        self.opts = opts
        self.name = f"{spec.name or spec.id} ({spec.driver})"
        self._pool = ctx.buses
        self._error: str | None = None
        self.unit: ModbusUnit | None = None
        address: BusAddress | None = None
        try:
            address = parse_address(
                spec.address, default_port=self.default_port, default_serial=self.default_serial
            )
        except AddressError as exc:
            self._error = str(exc)
        if self._pool is None:
            self._error = "no Modbus bus pool in this manager"
        if address is not None and self._error is None:
            try:
                bus = self._pool.acquire(address, gap_s=self.gap_s)
            except DeviceError as exc:
                self._error = str(exc)
            else:
                self.unit = ModbusUnit(
                    bus,
                    opts.unit_id,
                    timeout_s=opts.timeout_s,
                    retries=opts.retries,
                    name=self.name,
                    repeat=self.repeat,
                )

    def _u(self) -> ModbusUnit:
        if self.unit is None:
            raise DeviceError(self._error or "device is closed")
        return self.unit

    async def close(self) -> None:
        unit, self.unit = self.unit, None
        if unit is not None:
            self._error = "device is closed"
            await self._pool.release(unit.bus)


def phase_signed(
    current: Sequence[float | None], power: Sequence[float | None]
) -> tuple[float | None, float | None, float | None]:
    """Give each phase current the sign of that phase's power (meters report a magnitude)."""
    out: list[float | None] = []
    for i in range(3):
        c, p = current[i], power[i]
        if c is None:
            out.append(None)
        elif p is not None and p < 0:
            out.append(-abs(c))
        else:
            out.append(abs(c))
    return (out[0], out[1], out[2])


def triple(values: Sequence[Any]) -> tuple[Any, Any, Any]:
    return (values[0], values[1], values[2])

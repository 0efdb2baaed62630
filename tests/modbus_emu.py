"""A Modbus device emulator for tests and benchmarks: real pymodbus servers on 127.0.0.1.

Each emulated unit has sparse holding/input/coil tables (an undefined address answers
"illegal data address", like real devices), can be made silent (no answer at all, like a dead
RS485 device), and every request is logged with its arrival time, so tests can check what a
driver wrote and that a serial-style bus kept its gap between requests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from devices.modbus import codec

_FRAMERS = {"socket": FramerType.SOCKET, "rtu": FramerType.RTU, "ascii": FramerType.ASCII}
_TABLE_OF_FC = {1: "coils", 5: "coils", 15: "coils", 2: "discrete", 4: "input"}


@dataclass
class Unit:
    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    coils: dict[int, bool] = field(default_factory=dict)
    #: no answer at all (timeout on the client side)
    silent: bool = False
    #: answer every request with this exception code
    fail_with: int | None = None
    #: addresses of holding registers that refuse writes
    read_only: set[int] = field(default_factory=set)
    #: largest read the unit accepts (some meters refuse long reads)
    max_count: int = 125

    def table(self, name: str) -> dict:
        return {"holding": self.holding, "input": self.input, "coils": self.coils}[name]

    def put(self, name: str, address: int, regs: list[int]) -> None:
        t = self.table(name)
        for i, r in enumerate(regs):
            t[address + i] = r & 0xFFFF

    def f32(self, name: str, address: int, value: float, order: Any = "big") -> None:
        self.put(name, address, codec.enc_f32(value, order))

    def get(self, name: str, address: int, count: int) -> list[int]:
        return [self.table(name)[address + i] for i in range(count)]


@dataclass
class Request:
    t: float
    unit: int
    fc: int
    address: int
    count: int
    values: list[int] | None


class _Context:
    """Stands in for pymodbus's datastore: the server calls async_getValues/async_setValues."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def device_ids(self) -> list[int]:
        return list(self.emu.units)

    def _unit(self, device_id: int) -> Unit:
        unit = self.emu.units.get(device_id)
        if unit is None or unit.silent:
            raise NoSuchIdException(f"no unit {device_id}")
        return unit

    async def async_getValues(self, device_id: int, fc: int, address: int, count: int = 1):
        unit = self._unit(device_id)
        if fc not in (5, 6, 15, 16, 22, 23):  # writes read back after setValues: log once
            self.emu.log.append(Request(time.monotonic(), device_id, fc, address, count, None))
        if unit.fail_with is not None:
            return ExcCodes(unit.fail_with)
        if fc in (3, 4) and count > unit.max_count:
            return ExcCodes.ILLEGAL_VALUE
        name = _TABLE_OF_FC.get(fc, "holding")
        if name == "discrete":
            name = "coils"
        table = unit.table(name)
        try:
            values = [table[address + i] for i in range(count)]
        except KeyError:
            return ExcCodes.ILLEGAL_ADDRESS
        return [bool(v) for v in values] if name == "coils" else values

    async def async_setValues(self, device_id: int, fc: int, address: int, values):
        unit = self._unit(device_id)
        vals = [int(v) for v in values]
        self.emu.log.append(Request(time.monotonic(), device_id, fc, address, len(vals), vals))
        if unit.fail_with is not None:
            return ExcCodes(unit.fail_with)
        name = "coils" if fc in (5, 15) else "holding"
        table = unit.table(name)
        for i in range(len(vals)):
            if address + i not in table or (name == "holding" and address + i in unit.read_only):
                return ExcCodes.ILLEGAL_ADDRESS
        for i, v in enumerate(vals):
            table[address + i] = bool(v) if name == "coils" else v & 0xFFFF
        return None


class Emulator:
    """Units behind one TCP port, speaking socket, RTU or ASCII framing."""

    def __init__(self, framing: str = "socket", port: int = 0) -> None:
        self.framing = framing
        self.port = port
        self.units: dict[int, Unit] = {}
        self.log: list[Request] = []
        self.connections = 0
        self._server: ModbusTcpServer | None = None

    def unit(self, unit_id: int) -> Unit:
        return self.units.setdefault(unit_id, Unit())

    @property
    def address(self) -> str:
        prefix = {"socket": "", "rtu": "rtu-tcp:", "ascii": "ascii-tcp:"}[self.framing]
        return f"{prefix}127.0.0.1:{self.port}"

    def _on_connect(self, connected: bool) -> None:
        if connected:
            self.connections += 1

    async def start(self) -> Emulator:
        placeholder = SimDevice(0, simdata=[SimData(0, datatype=DataType.REGISTERS)])
        server = ModbusTcpServer(
            placeholder,
            framer=_FRAMERS[self.framing],
            address=("127.0.0.1", self.port),
            ignore_missing_devices=True,
            trace_connect=self._on_connect,
        )
        server.context = _Context(self)  # type: ignore[assignment]
        await server.serve_forever(background=True)
        self.port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._server = server
        return self

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            await asyncio.sleep(0)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def writes(self, unit_id: int | None = None) -> list[Request]:
        return [r for r in self.log if r.values is not None and unit_id in (None, r.unit)]

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

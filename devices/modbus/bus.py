"""Shared Modbus connections: one per TCP endpoint or serial port, whatever the unit ids on it.

Why shared: an RS485 line is half duplex (two masters talking at once garble each other), many
wallboxes accept a single TCP connection, and a TCP gateway serialises its serial side anyway.
So every device on one bus goes through one `Bus` with a lock; on serial-style buses (RTU/ASCII
framing) a small gap separates requests, as slow meters need quiet time between frames.

Failures never block: connecting is bounded by the caller's timeout and, after a failure, the
bus refuses at once (with the last error) until its back-off delay has passed, so one dead
device cannot stall the control cycle or start-up. pymodbus's own reconnect loop and retries
are switched off; timeouts, retries and back-off live here, where they are per device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType

from devices.modbus.address import BusAddress
from manager.model import DeviceError

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target did not respond",
}
_FRAMERS = {"socket": FramerType.SOCKET, "rtu": FramerType.RTU, "ascii": FramerType.ASCII}
#: pymodbus's own timers are set out of the way; ours (per device) always fire first
_LIBRARY_TIMEOUT_S = 3600.0
#: consecutive unanswered requests after which a TCP connection is assumed dead (half-open)
_TCP_DEAD_AFTER = 3

Op = Callable[[Any], Awaitable[Any]]


class ModbusReplyError(DeviceError):
    """The device answered with a Modbus exception (it is alive but refused the request)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Bus:
    """One connection and its lock. Get it from BusPool.acquire, give it back with release."""

    def __init__(
        self, address: BusAddress, *, gap_s: float, backoff_min_s: float, backoff_max_s: float
    ) -> None:
        self.address = address
        self.gap_s = gap_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.name = address.describe()
        self.users = 0
        #: successful connects so far (diagnostics, and tests check sharing with it)
        self.connects = 0
        self.last_error: str | None = None
        self._lock = asyncio.Lock()
        self._client: Any = None
        self._last_io = 0.0
        self._retry_at = 0.0
        self._backoff = backoff_min_s
        self._unanswered = 0

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def execute(self, what: str, op: Op, timeout_s: float) -> Any:
        """Run one request under the bus lock; returns the response PDU or raises DeviceError."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            client = await self._connect(timeout_s)
            if self.address.serial_bus and self.gap_s > 0:
                wait = self._last_io + self.gap_s - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                response = await asyncio.wait_for(op(client), timeout_s)
            except TimeoutError:
                raise self._no_answer(what, timeout_s) from None
            except ModbusException as exc:
                self._drop(f"{exc}")
                raise DeviceError(f"{self.name}: {what} failed: {exc}") from None
            except OSError as exc:
                self._drop(f"{exc}")
                raise DeviceError(f"{self.name}: {what} failed: {exc}") from None
            finally:
                self._last_io = loop.time()
            self._unanswered = 0
            if response is None:
                raise DeviceError(f"{self.name}: {what}: empty answer")
            if response.isError():
                code = int(getattr(response, "exception_code", 0) or 0)
                name = EXCEPTION_NAMES.get(code, "unknown exception")
                raise ModbusReplyError(
                    f"{self.name}: {what}: device answered exception {code} ({name})", code
                )
            return response

    def _no_answer(self, what: str, timeout_s: float) -> DeviceError:
        if self._client is not None and not self._client.connected:
            self._drop("connection closed by the device")
            return DeviceError(f"{self.name}: connection lost during {what}")
        self._unanswered += 1
        if self.address.is_tcp and self._unanswered >= _TCP_DEAD_AFTER:
            self._drop(f"{self._unanswered} requests in a row unanswered")
        return DeviceError(f"{self.name}: no answer to {what} within {timeout_s:g} s")

    async def _connect(self, timeout_s: float) -> Any:
        if self._client is not None:
            if self._client.connected:
                return self._client
            self._drop("connection closed by the device")
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now < self._retry_at:
            raise DeviceError(f"{self.last_error} (next attempt in {self._retry_at - now:.1f} s)")
        client: Any = None
        error = ""
        try:
            client = self._new_client()
            # call_create is pymodbus's connect without its swallowing of the error text
            await asyncio.wait_for(client.ctx.call_create(), timeout_s)
        except TimeoutError:
            error = f"no connection within {timeout_s:g} s"
        except RuntimeError as exc:  # pyserial missing for serial ports
            error = (
                "serial ports need the pyserial package (pip install pyserial)"
                if "pyserial" in str(exc)
                else str(exc)
            )
        except (OSError, ValueError) as exc:
            error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if error or client is None or not client.connected:
            if client is not None:
                client.close()
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, self.backoff_max_s)
            first = self.last_error is None or not self.last_error.startswith("cannot connect")
            self.last_error = f"cannot connect to {self.name}: {error or 'refused'}"
            if first:
                log.warning("%s", self.last_error)
            raise DeviceError(self.last_error)
        self._client = client
        self._backoff = self.backoff_min_s
        self._retry_at = 0.0
        self._unanswered = 0
        self.connects += 1
        log.info("connected to %s", self.name)
        self.last_error = None
        return client

    def _new_client(self) -> Any:
        a = self.address
        common: dict[str, Any] = {
            "framer": _FRAMERS[a.framing],
            "name": self.name,
            "timeout": _LIBRARY_TIMEOUT_S,
            "retries": 0,
            "reconnect_delay": 0,
        }
        if a.is_tcp:
            return AsyncModbusTcpClient(a.host, port=a.port, **common)
        assert a.serial is not None
        return AsyncModbusSerialClient(
            a.device,
            baudrate=a.serial.baud,
            parity=a.serial.parity,
            stopbits=a.serial.stopbits,
            bytesize=a.serial.bytesize,
            **common,
        )

    def _drop(self, reason: str) -> None:
        if self._client is not None:
            log.warning("disconnected from %s: %s", self.name, reason)
            self._client.close()
            self._client = None
        self._unanswered = 0

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class BusPool:
    """All buses of one manager, keyed by host:port or serial port (built by the app)."""

    def __init__(self, *, backoff_min_s: float = 0.5, backoff_max_s: float = 10.0) -> None:
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self._buses: dict[tuple[str, ...], Bus] = {}

    def acquire(self, address: BusAddress, *, gap_s: float = 0.0) -> Bus:
        """The shared bus for `address`; raises DeviceError if a serial port is already open
        with other settings (all devices on one line must use the same baud rate and parity)."""
        bus = self._buses.get(address.key)
        if bus is None:
            bus = Bus(
                address,
                gap_s=gap_s,
                backoff_min_s=self.backoff_min_s,
                backoff_max_s=self.backoff_max_s,
            )
            self._buses[address.key] = bus
        elif not address.is_tcp and (
            address.serial != bus.address.serial or address.framing != bus.address.framing
        ):
            raise DeviceError(
                f"serial port {address.device} is already used as {bus.name}; every device on "
                f"one bus needs the same framing and settings (this one wants "
                f"{address.describe()})"
            )
        bus.gap_s = max(bus.gap_s, gap_s)
        bus.users += 1
        return bus

    async def release(self, bus: Bus) -> None:
        bus.users -= 1
        if bus.users <= 0 and self._buses.get(bus.address.key) is bus:
            del self._buses[bus.address.key]
            await bus.close()

    def buses(self) -> list[Bus]:
        return list(self._buses.values())

    async def close(self) -> None:
        buses, self._buses = list(self._buses.values()), {}
        for bus in buses:
            await bus.close()

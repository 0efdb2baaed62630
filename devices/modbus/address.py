"""The address a user types for a Modbus device, parsed into how to reach its bus.

Syntax (documented in docs/devices.md):

    host[:port]                      Modbus TCP (port defaults to the driver's port)
    rtu-tcp:host[:port]              RTU frames through a TCP gateway (a serial bus behind it)
    ascii-tcp:host[:port]            ASCII frames through a TCP gateway
    rtu:/dev/ttyUSB0[?baud=19200&parity=E&stopbits=1&bytesize=8]     serial RTU
    ascii:/dev/ttyUSB0[?baud=38400&parity=E]                         serial ASCII

IPv6 hosts go in brackets: "[fe80::1]:502". Serial settings left out take the driver's defaults
(e.g. 19200 8E1 for a Heidelberg box). Everything a user can get wrong raises AddressError with
a sentence that says what is wrong and what is expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

Framing = Literal["socket", "rtu", "ascii"]

SERIAL_KEYS = ("baud", "parity", "stopbits", "bytesize")
BAUDS = (1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200)


class AddressError(ValueError):
    """The address text cannot be used; the message is shown to the user as is."""


@dataclass(frozen=True, slots=True)
class SerialSettings:
    baud: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1
    bytesize: int = 8

    def describe(self) -> str:
        return f"{self.baud} {self.bytesize}{self.parity}{self.stopbits}"


@dataclass(frozen=True, slots=True)
class BusAddress:
    """Where a bus is: a TCP endpoint or a serial port, and the framing spoken on it.

    `serial_bus` is True when several devices share one half-duplex line (a serial port or a
    serial gateway): requests are then serialised with a gap between them.
    """

    framing: Framing
    host: str = ""
    port: int = 0
    device: str = ""
    serial: SerialSettings | None = None

    @property
    def is_tcp(self) -> bool:
        return not self.device

    @property
    def serial_bus(self) -> bool:
        return self.framing != "socket"

    @property
    def key(self) -> tuple[str, ...]:
        """Identity of the physical connection: one per host:port or serial port."""
        if self.device:
            return ("serial", self.device)
        return ("tcp", self.host.lower(), str(self.port), self.framing)

    def describe(self) -> str:
        if self.device:
            assert self.serial is not None
            return f"{self.framing}:{self.device} ({self.serial.describe()})"
        host = f"[{self.host}]" if ":" in self.host else self.host
        prefix = "" if self.framing == "socket" else f"{self.framing}-tcp:"
        return f"{prefix}{host}:{self.port}"


def parse_address(
    text: str, *, default_port: int = 502, default_serial: SerialSettings | None = None
) -> BusAddress:
    """Parse what the user typed; raises AddressError naming the problem."""
    raw = (text or "").strip()
    if not raw:
        raise AddressError("address is empty: enter host:port, or rtu:/dev/ttyUSB0 for serial")
    lower = raw.lower()
    for prefix, framing in (("rtu-tcp:", "rtu"), ("ascii-tcp:", "ascii")):
        if lower.startswith(prefix):
            host, port = _host_port(raw[len(prefix) :], default_port, raw)
            return BusAddress(framing=framing, host=host, port=port)  # type: ignore[arg-type]
    for prefix, framing in (("rtu:", "rtu"), ("ascii:", "ascii")):
        if lower.startswith(prefix):
            device, settings = _serial(raw[len(prefix) :], default_serial or SerialSettings(), raw)
            return BusAddress(framing=framing, device=device, serial=settings)  # type: ignore[arg-type]
    if lower.startswith(("tcp://", "tcp:")):
        raw = raw.split(":", 1)[1].lstrip("/")
    elif "://" in raw or lower.startswith("/") or re.fullmatch(r"com\d+", lower):
        raise AddressError(
            f"address {text!r} is not understood: use host:port for Modbus TCP, "
            "rtu:/dev/ttyUSB0?baud=9600 for a serial port or rtu-tcp:host:port for a gateway"
        )
    host, port = _host_port(raw, default_port, text)
    return BusAddress(framing="socket", host=host, port=port)


def _host_port(text: str, default_port: int, original: str) -> tuple[str, int]:
    text = text.strip()
    port_text = ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise AddressError(f"address {original!r}: missing ']' after the IPv6 address")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise AddressError(f"address {original!r}: expected ':port' after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif text.count(":") > 1:
        raise AddressError(
            f"address {original!r}: put an IPv6 address in brackets, e.g. [fe80::1]:502"
        )
    else:
        host = text
    host = host.strip()
    if not host:
        raise AddressError(f"address {original!r}: the host name or IP address is missing")
    if any(c.isspace() for c in host) or "/" in host or "?" in host:
        raise AddressError(f"address {original!r}: {host!r} is not a host name or IP address")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise AddressError(f"address {original!r}: port must be a number from 1 to 65535")
    return host, int(port_text)


def _serial(text: str, defaults: SerialSettings, original: str) -> tuple[str, SerialSettings]:
    device, _, query = text.partition("?")
    device = device.strip()
    if not device:
        raise AddressError(f"address {original!r}: the serial port (e.g. /dev/ttyUSB0) is missing")
    values: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        key = key.strip().lower()
        key = {"baudrate": "baud", "stop": "stopbits", "bits": "bytesize"}.get(key, key)
        if key not in SERIAL_KEYS:
            raise AddressError(
                f"address {original!r}: unknown serial setting {key!r} "
                f"(allowed: {', '.join(SERIAL_KEYS)})"
            )
        values[key] = value.strip()
    baud, parity = defaults.baud, defaults.parity
    stopbits, bytesize = defaults.stopbits, defaults.bytesize
    if "baud" in values:
        if not values["baud"].isdigit() or int(values["baud"]) not in BAUDS:
            raise AddressError(
                f"address {original!r}: baud must be one of {', '.join(map(str, BAUDS))}"
            )
        baud = int(values["baud"])
    if "parity" in values:
        p = values["parity"].upper()[:1]
        if p not in ("N", "E", "O"):
            raise AddressError(f"address {original!r}: parity must be N, E or O")
        parity = p  # type: ignore[assignment]
    if "stopbits" in values:
        if values["stopbits"] not in ("1", "2"):
            raise AddressError(f"address {original!r}: stopbits must be 1 or 2")
        stopbits = int(values["stopbits"])
    if "bytesize" in values:
        if values["bytesize"] not in ("7", "8"):
            raise AddressError(f"address {original!r}: bytesize must be 7 or 8")
        bytesize = int(values["bytesize"])
    return device, SerialSettings(baud, parity, stopbits, bytesize)

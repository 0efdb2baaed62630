"""Shelly Pro 3EM over its local HTTP JSON API (Gen2 RPC): EM.GetStatus and EMData.GetStatus.

The Shelly reports current as a magnitude and power with its sign, so each phase current gets
the sign of its power (export < 0). Nulls mean "no value". Plain HTTP/1.1 with the standard
library keeps the dependency list short; authentication (digest) is not supported, a device
that asks for it gets a clear error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from pydantic import Field, model_validator

from devices.driver import DeviceContext, Driver, DriverOptions
from manager.model import DeviceError, DeviceSpec, MeterReading

log = logging.getLogger(__name__)
PHASE_KEYS = ("a", "b", "c")
MAX_BODY = 1 << 16


class ShellyOptions(DriverOptions):
    timeout_s: float = Field(2.0, gt=0, le=30, description="Seconds to wait for an answer")
    em_id: int = Field(0, ge=0, le=9, description="Id of the energy meter component (0)")

    @model_validator(mode="before")
    @classmethod
    def _check_address(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("address"), str):
            if data["address"].strip():
                parse_host(data["address"])
        return data


def parse_host(address: str) -> tuple[str, int]:
    """ "host" or "host:port" (http:// prefix allowed); raises ValueError with a sentence."""
    text = address.strip()
    for prefix in ("http://", "HTTP://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.rstrip("/")
    if text.startswith("https://"):
        raise ValueError(f"address {address!r}: the Shelly's local API is plain http")
    host, sep, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if not sep:
        host, port = text, "80"
    if not host or any(c in host for c in " /?#@"):
        raise ValueError(f"address {address!r}: expected the Shelly's host name or IP address")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"address {address!r}: port must be a number from 1 to 65535")
    return host, int(port)


async def http_get_json(host: str, port: int, path: str, timeout_s: float) -> Any:
    """GET a small JSON document; raises DeviceError saying what went wrong."""
    where = f"http://{host}:{port}{path}"
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status_line, *header_lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = await _read_chunked(reader)
                elif "content-length" in headers:
                    length = int(headers["content-length"])
                    if length > MAX_BODY:
                        raise DeviceError(f"{where}: answer too large ({length} bytes)")
                    body = await reader.readexactly(length)
                else:
                    body = await reader.read(MAX_BODY)
            finally:
                writer.close()
    except TimeoutError:
        raise DeviceError(f"{where}: no answer within {timeout_s:g} s") from None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise DeviceError(f"{where}: {getattr(exc, 'strerror', None) or exc}") from None
    parts = status_line.split(" ", 2)
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if code == 401:
        raise DeviceError(
            f"{where}: the Shelly asks for a password; switch off its authentication "
            "(ampshare reads it without one)"
        )
    if code != 200:
        raise DeviceError(f"{where}: HTTP {status_line.partition(' ')[2] or code}")
    try:
        return json.loads(body)
    except ValueError:
        raise DeviceError(f"{where}: the answer is not JSON") from None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return body
        body += await reader.readexactly(size)
        await reader.readline()
        if len(body) > MAX_BODY:
            raise ValueError("answer too large")


def _num(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class ShellyPro3EM:
    def __init__(self, spec: DeviceSpec, opts: ShellyOptions) -> None:
        self.name = spec.name or spec.id
        self.opts = opts
        self.error: str | None = None
        self.host, self.port = "", 80
        try:
            self.host, self.port = parse_host(spec.address)
        except ValueError as exc:
            self.error = str(exc)

    async def read(self) -> MeterReading:
        if self.error:
            raise DeviceError(self.error)
        eid = self.opts.em_id
        status, energy = await asyncio.gather(
            http_get_json(self.host, self.port, f"/rpc/EM.GetStatus?id={eid}", self.opts.timeout_s),
            http_get_json(
                self.host, self.port, f"/rpc/EMData.GetStatus?id={eid}", self.opts.timeout_s
            ),
        )
        if not isinstance(status, dict) or not isinstance(energy, dict):
            raise DeviceError(f"{self.name}: unexpected answer from the Shelly")
        amps, volts, watts = [], [], []
        for p in PHASE_KEYS:
            a, w = _num(status, f"{p}_current"), _num(status, f"{p}_act_power")
            if a is not None and w is not None and w < 0:
                a = -abs(a)
            amps.append(a)
            volts.append(_num(status, f"{p}_voltage"))
            watts.append(w)
        return MeterReading(
            current_a=(amps[0], amps[1], amps[2]),
            voltage_v=(volts[0], volts[1], volts[2]),
            power_w=(watts[0], watts[1], watts[2]),
            total_power_w=_num(status, "total_act_power"),
            energy_import_wh=_num(energy, "total_act"),
            energy_export_wh=_num(energy, "total_act_ret"),
        )

    async def close(self) -> None:
        pass


def _build(spec: DeviceSpec, opts: ShellyOptions, ctx: DeviceContext) -> ShellyPro3EM:
    return ShellyPro3EM(spec, opts)


DRIVERS = (
    Driver(
        "shelly-pro3em", "meter", "Shelly Pro 3EM", ShellyOptions, _build, check_address=parse_host
    ),
)

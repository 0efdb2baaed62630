"""Shelly Pro 3EM driver against a local HTTP server speaking its RPC JSON API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from ports import free_port

from devices.driver import DeviceContext
from devices.probe import probe
from devices.registry import build, drivers
from manager.model import DeviceError, DeviceSpec

STATUS = {
    "id": 0,
    "a_current": 5.2, "a_voltage": 231.2, "a_act_power": 1190.0,
    "b_current": 3.1, "b_voltage": 229.8, "b_act_power": -700.0,
    "c_current": None, "c_voltage": 233.0, "c_act_power": None,
    "total_current": 8.3, "total_act_power": 490.0,
}  # fmt: skip
ENERGY = {"id": 0, "total_act": 1234500.5, "total_act_ret": 321250.0}


class FakeShelly:
    """Answers GET /rpc/EM.GetStatus and /rpc/EMData.GetStatus; behaviour switchable."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.paths: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.closing = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ")[1].decode()
            self.paths.append(path)
            if self.mode == "silent":
                await self.closing.wait()  # never answers; released when the test ends
                return
            code, body = "200 OK", b""
            if self.mode == "auth":
                code, body = "401 Unauthorized", b'{"code":401}'
            elif self.mode == "garbage":
                body = b"<html>not json</html>"
            elif path.startswith("/rpc/EM.GetStatus"):
                body = json.dumps(STATUS).encode()
            elif path.startswith("/rpc/EMData.GetStatus"):
                body = json.dumps(ENERGY).encode()
            else:
                code, body = "404 Not Found", b"{}"
            if self.mode == "chunked":
                writer.write(
                    f"HTTP/1.1 {code}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                    + f"{len(body[:10]):x}\r\n".encode() + body[:10] + b"\r\n"
                    + f"{len(body[10:]):x}\r\n".encode() + body[10:] + b"\r\n0\r\n\r\n"
                )  # fmt: skip
            else:
                writer.write(
                    f"HTTP/1.1 {code}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> FakeShelly:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.closing.set()
        self.server.close()
        await self.server.wait_closed()


def meter(address: str, **opts: Any) -> Any:
    spec = DeviceSpec("s", "shelly", "meter", "shelly-pro3em", address, {"role": "grid", **opts})
    return build(spec, DeviceContext(), drivers())


async def test_shelly_values_signed_and_nulls_are_none() -> None:
    async with FakeShelly() as shelly:
        for mode in ("ok", "chunked"):
            shelly.mode = mode
            r = await meter(f"127.0.0.1:{shelly.port}").read()
            assert r.current_a == (5.2, -3.1, None)
            assert r.voltage_v == (231.2, 229.8, 233.0)
            assert r.power_w == (1190.0, -700.0, None)
            assert r.total_power_w == 490.0
            assert r.energy_import_wh == 1234500.5 and r.energy_export_wh == 321250.0
        assert "/rpc/EM.GetStatus?id=0" in shelly.paths


async def test_shelly_errors_are_clear() -> None:
    async with FakeShelly() as shelly:
        m = meter(f"http://127.0.0.1:{shelly.port}/", timeout_s=0.3)
        shelly.mode = "auth"
        with pytest.raises(DeviceError, match="asks for a password"):
            await m.read()
        shelly.mode = "garbage"
        with pytest.raises(DeviceError, match="not JSON"):
            await m.read()
        shelly.mode = "silent"
        with pytest.raises(DeviceError, match=r"no answer within 0\.3 s"):
            await m.read()
    with pytest.raises(DeviceError, match=r"127\.0\.0\.1"):
        await meter(f"127.0.0.1:{free_port()}").read()
    with pytest.raises(DeviceError, match="port must be a number"):
        await meter("127.0.0.1:http").read()


async def test_shelly_probe() -> None:
    async with FakeShelly() as shelly:
        spec = DeviceSpec("s", "shelly", "meter", "shelly-pro3em", f"127.0.0.1:{shelly.port}", {})
        result = await probe(spec, DeviceContext(), 2.0)
    assert result["ok"] and result["values"]["current_a"] == [5.2, -3.1, None]

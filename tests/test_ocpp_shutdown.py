"""Stopping ampshare closes every charge point's socket with a close frame (1001 going away)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import websockets
from manager_process import ManagerProcess


async def _closed_by_sigterm(proc: ManagerProcess) -> websockets.ConnectionClosed:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{proc.ocpp_port}/BOX1", subprotocols=["ocpp1.6"], open_timeout=5
    )
    await ws.send('[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
    async with asyncio.timeout(5):
        while '"b"' not in str(await ws.recv()):
            pass
    proc.proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(15):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as exc:
        return exc
    raise AssertionError("the connection stayed open")


def test_sigterm_sends_close_frames(tmp_path: Path) -> None:
    proc = ManagerProcess("serve", data_dir=tmp_path / "data")
    try:
        proc.wait_ready()
        closed = asyncio.run(_closed_by_sigterm(proc))
        assert closed.rcvd is not None, "socket dropped without a close frame"
        assert closed.rcvd.code == 1001
        assert proc.proc.wait(timeout=15) == 0
    finally:
        proc.stop()

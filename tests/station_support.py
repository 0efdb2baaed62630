"""A strict `ocpp-rpc` charge point (tests/interop/station.js) driven from a test."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from tools import INTEROP, require_node

WAIT_S = 10.0


class NodeStation:
    """One station.js process: its JSON event lines (read all the time), and commands on its
    stdin."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []
        self._cursor = 0
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.seen.append(json.loads(line))
            self._changed.set()
        self._changed.set()

    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.seen if e["event"] == "error"]

    async def next(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next event of `kind` (whose fields equal `match`), within WAIT_S."""
        async with asyncio.timeout(WAIT_S):
            while True:
                while self._cursor < len(self.seen):
                    event = self.seen[self._cursor]
                    self._cursor += 1
                    if event["event"] == "error":
                        raise AssertionError(f"station.js: {event['why']}")
                    if event["event"] == kind and all(event.get(k) == v for k, v in match.items()):
                        return event
                if self._reader.done():
                    err = await self.proc.stderr.read() if self.proc.stderr else b""
                    raise AssertionError(f"station.js ended before {kind!r}: {err.decode()}")
                self._changed.clear()
                await self._changed.wait()

    async def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()

    async def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.send(call=action, params=params)
        return await self.next("result", call=action)

    async def answer(self, mode: str) -> None:
        await self.send(answer=mode)
        await self.next("answer", answer=mode)

    def requests(self, method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.seen if e.get("method") == method]

    async def request(self, method: str) -> dict[str, Any]:
        """The last `method` request the box got (waits, bounded, until it printed it)."""
        async with asyncio.timeout(WAIT_S):
            while not self.requests(method):
                self._changed.clear()
                await self._changed.wait()
        return self.requests(method)[-1]

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        assert not self.errors(), self.errors()


@contextlib.asynccontextmanager
async def node_station(
    port: int, cb_id: str, version: str, **config: Any
) -> AsyncIterator[NodeStation]:
    """A booted station.js box connected to the OCPP server on `port`; killed at the end."""
    node = require_node()
    proc = await asyncio.create_subprocess_exec(
        node,
        "station.js",
        str(port),
        cb_id,
        version,
        json.dumps(config),
        cwd=INTEROP,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    box = NodeStation(proc)
    try:
        await box.next("ready")
        yield box
    finally:
        await box.stop()

"""The HTTP server's socket and lifetime (uvicorn), apart from what it serves.

The socket is bound first, before anything else starts, so a taken port fails at once with a
sentence; the server then runs the ASGI app the composition root built until it is told to stop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("ampshare")


def listen_socket(host: str, port: int) -> socket.socket:
    """The web server's socket; raises OSError with a sentence an operator understands."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"web server cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


async def serve(
    app: Any,
    sock: socket.socket,
    host: str,
    port: int,
    *,
    started_at: float,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve `app` on `sock` until the server is told to exit (SIGINT/SIGTERM, cancel, or
    `stop` being set)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        # the login throttle keys on the real peer: X-Forwarded-For is not trusted
        proxy_headers=False,
        ws="none",  # the web needs no WebSocket; OCPP has its own server
        # open dashboards hold an endless SSE stream: do not wait for them on shutdown
        timeout_graceful_shutdown=2,
    )
    server = _Uvicorn(config)
    serve_task = asyncio.create_task(server.serve(sockets=[sock]))
    watch = asyncio.create_task(_exit_on(stop, server)) if stop is not None else None
    try:
        await _serving(server, serve_task, host, port, started_at, ready)
    finally:
        if watch is not None:
            watch.cancel()


async def _exit_on(stop: asyncio.Event, server: uvicorn.Server) -> None:
    await stop.wait()
    server.should_exit = True


async def _serving(
    server: uvicorn.Server,
    serve_task: asyncio.Task[None],
    host: str,
    port: int,
    started_at: float,
    ready: asyncio.Event | None,
) -> None:
    # uvicorn offers no start event; it ends when serve() starts or fails
    while not server.started and not serve_task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    if serve_task.done():
        await serve_task  # raises why it could not start
        return
    log.info("ampshare up in %.2f s: http://%s:%d/", time.monotonic() - started_at, host, port)
    if ready is not None:
        ready.set()
    try:
        await serve_task
    finally:
        server.should_exit = True


class _Uvicorn(uvicorn.Server):
    """uvicorn raises SIGTERM/SIGINT again once it stopped serving, which ends the process
    before the manager is closed: OCPP boxes then lose their sockets without a close frame.
    Here the signal only ends serving; `run` returns and closes everything in order."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

"""The real manager wiring, in process, for tests that drive the facade or the web app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from ports import free_port

from manager.app import Manager, Options, build_manager
from manager.config import InvalidInput


@asynccontextmanager
async def running_manager(
    data_dir: Path, *, demo: bool = False, password: str | None = None
) -> AsyncIterator[Manager]:
    """A started manager on a free OCPP port, closed when the block ends."""
    m = build_manager(
        Options(data_dir=data_dir, host="127.0.0.1", ocpp_port=free_port(), demo=demo)
    )
    if password is not None:
        m.service.set_admin_password_now(password)
    await m.start()
    try:
        yield m
    finally:
        await m.close()


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> set[str]:
    """The fields an InvalidInput names."""
    return {e["field"] for e in exc.value.errors}

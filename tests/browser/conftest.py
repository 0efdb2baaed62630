"""Fixtures the browser tests share; the steps behind them are in browser_support.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_support import chromium
from manager_process import ManagerProcess, running
from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def demo() -> Iterator[ManagerProcess]:
    """A fresh demo per test; modules that only read override it with a module-scoped one."""
    with running("demo") as proc:
        yield proc

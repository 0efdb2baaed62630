"""The system tools some tests need. Missing ones fail those tests with the fix, never skip them:
a skipped browser or interop test would let a machine without the tools look green."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from chromium import CHROMIUM

INTEROP = Path(__file__).parent / "interop"


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is not at {CHROMIUM}: run `make test` (it installs it)")
    return CHROMIUM


def require_node() -> str:
    node = shutil.which("node")
    if node is None or not (INTEROP / "node_modules" / "ocpp-rpc").is_dir():
        pytest.fail("needs node and `npm ci` in tests/interop: run `make test` (it does both)")
    return node

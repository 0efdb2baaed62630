"""How tests and benchmarks start Debian's Chromium: never a downloaded browser, no network."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
#: headless, and nothing that would phone home from a machine without internet
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

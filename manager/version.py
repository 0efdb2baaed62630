"""The installed ampshare version, as the CLI, the health check, MQTT and backups report it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def ampshare_version() -> str:
    """The version pip installed; a source tree that was never installed says so."""
    try:
        return version("ampshare")
    except PackageNotFoundError:
        return "0+unknown"


VERSION = ampshare_version()

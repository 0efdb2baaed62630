"""Why a request to or from a charge point did not work out."""

from __future__ import annotations


class OcppCallError(Exception):
    """The box answered our request with a CALLERROR."""

    def __init__(self, action: str, code: str, description: str) -> None:
        super().__init__(f"{action}: box answered {code} ({description})")
        self.code = code
        self.description = description


class CallTimeout(Exception):
    """The box did not answer our request in time."""


class NotConnected(Exception):
    """The connection closed before the box answered."""


class BadMessage(Exception):
    """A request from the box we refuse with a CALLERROR; nothing of it is stored."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description

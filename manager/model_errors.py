"""What goes wrong, as data: a device that fails, a value that breaks a rule.

Part of the domain model (`manager.model` re-exports both names, and that is where they are
imported from); kept in its own file so each stays small. Pure: of the project only
`manager.model`'s `Reason`, for the type checker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from manager.model import Reason


class DeviceError(Exception):
    """A device could not be read or written: the message for the log, and optionally the
    same as a `Reason` the dashboard words in the reader's language."""

    def __init__(self, message: str = "", reason: Reason | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class Problem(ValueError):
    """A bad value as data: a code and parameters the web edge words, plus the English text.

    Drivers raise it from address checks and validators, so a form can say what is wrong in
    the reader's language without anyone parsing an English sentence.
    """

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params

"""Bad input as data: every mistake names its field, a code and parameters.

The facade collects these and raises them together; the web edge words each code in the
reader's language (web/error_words.py), so nothing downstream ever parses an English sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from manager.model import Problem


def problem(field: str, code: str, message: str, **params: Any) -> dict[str, Any]:
    """One mistake as data: the field, a code and its parameters, and the English sentence.

    The web edge words `code` with `params` in the reader's language; `message` is what API
    clients without a language and the log read.
    """
    return {"field": field, "message": message, "code": code, "params": params}


class InvalidInput(ValueError):
    """Input that breaks a rule; `errors` lists {"field", "message", "code", "params"}."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))

    @classmethod
    def one(cls, field: str, message: str, code: str = "invalid", **params: Any) -> InvalidInput:
        return cls([problem(field, code, message, **params)])

    @classmethod
    def from_pydantic(cls, exc: ValidationError, prefix: str = "") -> InvalidInput:
        return cls(pydantic_errors(exc, prefix))


def _plain(value: Any) -> Any:
    """A pydantic error parameter as JSON (numbers and text stay, anything else as text)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def pydantic_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """pydantic's errors as problems: its error type is the code, its context the params."""
    errors = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        code, msg = err["type"], err["msg"]
        params = {k: _plain(v) for k, v in (err.get("ctx") or {}).items() if k != "error"}
        if code == "extra_forbidden":
            msg = "unknown field"
        elif code == "value_error" and isinstance((err.get("ctx") or {}).get("error"), Problem):
            problem_ = err["ctx"]["error"]
            code, msg, params = problem_.code, str(problem_), dict(problem_.params)
        errors.append(problem(prefix + field, code, msg, **params))
    return errors


class NotFound(KeyError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def first_per_field(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One message per field (the first found), in the order found."""
    seen: set[str] = set()
    out = []
    for e in errors:
        if e["field"] not in seen:
            seen.add(e["field"])
            out.append(e)
    return out


def address_errors(check: Callable[[str], object] | None, address: str) -> list[dict[str, Any]]:
    """A driver's verdict on an address: empty is "required", a Problem keeps its code."""
    if check is None:
        return []
    try:
        check(address)
    except ValueError as exc:
        if isinstance(exc, Problem):
            return [problem("address", exc.code, str(exc), **exc.params)]
        if not address.strip():
            return [problem("address", "address_required", "an address is needed")]
        return [problem("address", "invalid_address", str(exc), detail=str(exc))]
    return []

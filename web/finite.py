"""JSON that browsers can parse: no Infinity or NaN, whatever a device reported.

A device can report absurd values (a kW of 1e308 turns into infinity after scaling); the web
edge sends such a number as null ("unknown") instead of failing the whole answer.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import JSONResponse


def finite(data: Any) -> Any:
    """`data` with every non-finite float replaced by None (containers copied, rest as is)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def dumps(data: Any, **kwargs: Any) -> str:
    """json.dumps that never writes Infinity/NaN; the common all-finite case costs one pass."""
    try:
        return json.dumps(data, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(finite(data), allow_nan=False, **kwargs)


class FiniteJSONResponse(JSONResponse):
    """JSONResponse whose body is always valid JSON (non-finite numbers become null)."""

    def render(self, content: Any) -> bytes:
        return dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

"""The gateway's status in words for the wallbox tile (codes from the API, text per language).

The API reports `gateway.error` as a short code; this table is the one place that says what
each code means to an installer. The page script gets the same words (as "gw:<code>" strings),
so the first render and the live updates agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

ERRORS: Mapping[str, str] = {
    "http_401": "wrong password (HTTP 401)",
    "http_403": "access refused (HTTP 403)",
    "http_404": "wrong URL or client id (HTTP 404)",
    "certificate_untrusted": "certificate not trusted",
    "tls_failed": "TLS handshake failed",
    "unreachable": "host unreachable",
    "unknown_host": "host name not found",
    "protocol": "backend speaks another protocol",
    "closed": "backend closed the connection",
    "bad_url": "invalid URL",
    "other": "connection failed",
}
WORDS = (
    "Billing backend",
    "connected since {time}",
    "not connected",
    "{n} queued",
    "certificate is not checked",
)


def error_text(code: str | None, translate: Callable[..., str]) -> str:
    if not code:
        return ""
    english = ERRORS.get(code)
    if english is None and code.startswith("http_"):
        return translate("backend answered HTTP {code}", code=code[5:])
    return translate(english or ERRORS["other"])


def gateway_lines(gw: Mapping[str, Any] | None, translate: Callable[..., str]) -> list[str]:
    """[status line, warning or ""] for a tile; [] without a gateway."""
    if not gw:
        return []
    if gw.get("connected") and gw.get("since"):
        when = datetime.fromtimestamp(float(gw["since"])).strftime("%H:%M")
        line = translate("connected since {time}", time=when)
    else:
        line = translate("not connected")
        if gw.get("error"):
            line += " — " + error_text(str(gw["error"]), translate)
    if gw.get("queued"):
        line += " · " + translate("{n} queued", n=gw["queued"])
    warn = translate("certificate is not checked") if gw.get("insecure") else ""
    return [f"{translate('Billing backend')}: {line}", warn]


def js_words(translate: Callable[..., str]) -> dict[str, str]:
    """What the page script needs: the words, and each code's text under "gw:<code>"."""
    out = {w: translate(w) for w in WORDS}
    out["backend answered HTTP {code}"] = translate("backend answered HTTP {code}")
    out.update({f"gw:{code}": translate(text) for code, text in ERRORS.items()})
    return out

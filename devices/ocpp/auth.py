"""Who is connecting: the ChargeBox ID from the URL and HTTP Basic Auth (security profiles 1, 2)."""

from __future__ import annotations

import binascii
import hmac
from urllib.parse import unquote

from websockets.exceptions import InvalidHeader
from websockets.headers import parse_authorization_basic

from manager.model import Problem

#: OCPP allows 48 characters; some boxes use longer serials, so be a bit lenient
MAX_ID_LEN = 64


def charge_box_id(path: str) -> str:
    """The last path segment, percent-decoded; any prefix is allowed. Raises ValueError."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    segment = path.rstrip("/").rsplit("/", 1)[-1] if path.rstrip("/") else ""
    cb_id = unquote(segment, errors="strict") if segment else ""
    if not cb_id:
        raise ValueError("the URL must end with the ChargeBox ID, e.g. ws://host:19520/ocpp/BOX1")
    if len(cb_id) > MAX_ID_LEN:
        raise ValueError(f"ChargeBox ID longer than {MAX_ID_LEN} characters")
    if ":" in cb_id or any(ord(c) < 32 for c in cb_id):
        raise ValueError("ChargeBox ID must not contain ':' or control characters")
    return cb_id


def check_charge_box_id(text: str) -> str:
    """An OCPP wallbox's address is its ChargeBox ID; raises ValueError if it cannot be one."""
    cb_id = text.strip()
    if not cb_id:
        raise Problem("charge_box_id_required", "enter the ChargeBox ID the box sends")
    if len(cb_id) > MAX_ID_LEN:
        raise ValueError(f"ChargeBox ID longer than {MAX_ID_LEN} characters")
    if ":" in cb_id or "/" in cb_id or any(ord(c) < 32 for c in cb_id):
        raise ValueError("ChargeBox ID must not contain ':', '/' or control characters")
    return cb_id


def _password_forms(sent: str) -> list[bytes]:
    """The key as sent, and hex-decoded if it is hex (OCPP 1.6 AuthorizationKey is hex)."""
    forms = [sent.encode("utf-8")]
    if len(sent) % 2 == 0 and sent:
        try:
            forms.append(binascii.unhexlify(sent))
        except (binascii.Error, ValueError):
            pass
    return forms


def check_basic_auth(header: str | None, cb_id: str, expected: str) -> str | None:
    """None if the header proves the password, else why not (for the log, never the client)."""
    if not header:
        return "no password sent"
    try:
        user, sent = parse_authorization_basic(header)
    except InvalidHeader:
        return "malformed Authorization header"
    if user != cb_id:
        return f"user name {user!r} is not the ChargeBox ID"
    want = expected.encode("utf-8")
    candidates = [want]
    try:  # the operator may have entered the hex form of the key
        if len(expected) % 2 == 0:
            candidates.append(binascii.unhexlify(expected))
    except (binascii.Error, ValueError):
        pass
    ok = False
    for form in _password_forms(sent):
        for cand in candidates:
            ok |= hmac.compare_digest(form, cand)
    return None if ok else "wrong password"

"""The web layer's pure pieces: cookie signing, CSRF, language choice, schema forms, chart."""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clock import Clock
from pydantic import ValidationError
from starlette.requests import HTTPConnection

from manager.config import CircuitConfig, EvseConfig, MeterConfig, Settings
from manager.service import public
from manager.state import EvseState, MeterState, ReasonState, State
from web import chart, users_words, views_words
from web.auth import SESSION_COOKIE, SESSION_LIFETIME_S, Authenticator, Identity, Signer
from web.forms import fields_from_schema, object_sections
from web.i18n import DE, DE_FIELDS, JS_STRINGS, parse_accept_language, translator
from web.render import num, power_parts

SECRET = b"0123456789abcdef0123456789abcdef"


def conn(
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    client: str = "127.0.0.9",
):
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    return HTTPConnection({"type": "http", "headers": raw, "client": (client, 5000)})


def make_auth(password: str = "pw", clock: Clock | None = None):
    calls: list[tuple[str, str]] = []

    async def verify(pw: str, client: str) -> bool:
        calls.append((pw, client))
        return pw == password

    return Authenticator(SECRET, verify, clock or Clock(1_000_000.0)), calls


def test_signed_cookie_round_trip_and_tamper() -> None:
    signer = Signer(SECRET)
    token = signer.sign({"sid": "abc", "exp": 5})
    assert signer.unsign(token) == {"sid": "abc", "exp": 5}
    body, mac = token.split(".")
    assert signer.unsign(body + "." + mac[:-2] + "AA") is None
    forged = base64.urlsafe_b64encode(b'{"exp":5,"sid":"evil"}').rstrip(b"=").decode()
    assert signer.unsign(forged + "." + mac) is None
    assert signer.unsign("garbage") is None
    assert signer.unsign("a.b.c") is None
    assert Signer(b"another-secret-of-32-bytes......").unsign(token) is None


async def test_session_expires_and_wrong_secret_fails() -> None:
    clock = Clock(1_000_000.0)
    auth, _ = make_auth(clock=clock)
    cookie, sid = auth.new_session()
    assert await auth.identify(conn(cookies={SESSION_COOKIE: cookie})) == Identity("cookie", sid)
    clock.t += SESSION_LIFETIME_S + 1
    assert await auth.identify(conn(cookies={SESSION_COOKIE: cookie})) is None


def test_csrf_token_bound_to_session() -> None:
    auth, _ = make_auth()
    _, sid1 = auth.new_session()
    _, sid2 = auth.new_session()
    me, other = Identity("cookie", sid1), Identity("cookie", sid2)
    token = auth.csrf_token(me)
    assert auth.check_csrf(me, token)
    assert not auth.check_csrf(other, token)
    assert not auth.check_csrf(me, None)
    assert not auth.check_csrf(me, "")
    assert auth.check_csrf(Identity("basic"), None)  # Basic auth is not sent by browsers alone
    nonce = auth.login_nonce()
    assert auth.check_login_csrf(nonce, auth.login_csrf(nonce))
    assert not auth.check_login_csrf(auth.login_nonce(), auth.login_csrf(nonce))
    assert not auth.check_login_csrf(None, auth.login_csrf(nonce))


def basic(user: str, pw: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


async def test_basic_auth_checks_user_and_caches_success_briefly() -> None:
    clock = Clock(1_000_000.0)
    auth, calls = make_auth("s3cret", clock)
    assert await auth.identify(conn(basic("admin", "nope"))) is None
    assert await auth.identify(conn(basic("root", "s3cret"))) is None
    assert await auth.identify(conn({"authorization": "Basic !!!"})) is None
    assert await auth.identify(conn({"authorization": "Bearer x"})) is None
    assert await auth.identify(conn(basic("admin", "s3cret"))) == Identity("basic")
    assert calls[-1] == ("s3cret", "127.0.0.9")
    n = len(calls)
    assert await auth.identify(conn(basic("admin", "s3cret"))) == Identity("basic")
    assert len(calls) == n  # remembered: no second hash
    clock.t += 61
    await auth.identify(conn(basic("admin", "s3cret")))
    assert len(calls) == n + 1
    auth.forget_credentials()
    await auth.identify(conn(basic("admin", "s3cret")))
    assert len(calls) == n + 2
    # another client is checked (and throttled) by the facade, not waved through
    await auth.identify(conn(basic("admin", "s3cret"), client="127.0.0.7"))
    assert calls[-1] == ("s3cret", "127.0.0.7")


def test_accept_language() -> None:
    assert parse_accept_language("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert parse_accept_language("fr-FR, en;q=0.5, de;q=0.7") == "de"
    assert parse_accept_language("en-GB,en;q=0.9") == "en"
    assert parse_accept_language("fr") is None
    assert parse_accept_language("de;q=0, en;q=0.1") == "en"
    assert parse_accept_language("de;q=abc") is None
    assert parse_accept_language("") is None


def test_german_covers_the_browser_strings() -> None:
    missing = [s for s in JS_STRINGS if s not in DE and s not in ("Live", "PV")]
    assert not missing
    assert translator("de")("{n} sessions", n=3) == "3 Ladevorgänge"
    assert translator("en")("{n} sessions", n=3) == "3 sessions"


def test_number_formatting_matches_languages() -> None:
    assert num(1234.56, 1) == "1,234.6"
    assert num(1234.56, 1, "de") == "1.234,6"
    assert num(-0.01, 1) == "0.0"
    assert num(None) == "—"
    assert num(float("nan")) == "—"
    assert power_parts(7400) == ("7.4", "kW")
    assert power_parts(850.4, "de") == ("850", "W")
    assert power_parts(None) == ("—", "kW")


def test_evse_form_from_real_schema() -> None:
    values = {"name": "Carport", "max_current_a": 32.0, "phases": 3, "enabled": False}
    fields = {
        f.key: f
        for f in fields_from_schema(
            EvseConfig.model_json_schema(), values, choices={"circuit": [("main", "Grid")]}
        )
    }
    assert "id" not in fields and "kind" not in fields and "driver" not in fields
    assert fields["name"].value == "Carport" and fields["name"].widget == "text"
    assert fields["max_current_a"].widget == "number" and fields["max_current_a"].value == "32"
    assert fields["max_current_a"].type == "number"
    assert fields["priority"].type == "integer"
    assert fields["phases"].widget == "select"
    assert [v for v, _ in fields["phases"].options] == ["1", "3"]
    assert fields["enabled"].widget == "checkbox" and not fields["enabled"].checked
    assert fields["circuit"].options == [("main", "Grid")]
    assert fields["max_current_a"].label == "Max current (A)"


def test_meter_role_enum_through_ref() -> None:
    fields = {f.key: f for f in fields_from_schema(MeterConfig.model_json_schema(), {})}
    assert fields["role"].widget == "select"
    assert ("pv", "PV") in fields["role"].options and ("grid", "Grid") in fields["role"].options
    assert fields["role"].value == "grid"


def test_settings_sections_and_write_only_password() -> None:
    schema = Settings.model_json_schema()
    sections = dict(object_sections(schema))
    assert set(sections) == {"site", "ocpp", "mqtt", "metrics", "limits"}
    mqtt = {f.key: f for f in fields_from_schema(sections["mqtt"], {}, prefix="mqtt.", root=schema)}
    assert set(mqtt) == {"host", "port", "tls", "username", "password", "base_topic", "retain"}
    assert mqtt["password"].widget == "password" and mqtt["tls"].widget == "checkbox"
    token = fields_from_schema(sections["metrics"], {"token_set": True}, root=schema)[0]
    assert token.widget == "password" and token.secret_set and token.value == ""
    values = {"port": 19520, "tls": "detect", "password_set": True}
    fields = {
        f.key: f for f in fields_from_schema(sections["ocpp"], values, prefix="ocpp.", root=schema)
    }
    pw = fields["password"]
    assert pw.widget == "password" and pw.value == "" and pw.secret_set and pw.nullable
    assert pw.name == "ocpp.password"
    assert fields["tls"].value == "detect"
    assert [v for v, _ in fields["tls"].options] == ["off", "detect", "on"]
    assert "password_set" not in fields


def test_circuit_nullable_number() -> None:
    fields = {f.key: f for f in fields_from_schema(CircuitConfig.model_json_schema(), {})}
    assert fields["max_power_w"].nullable and fields["max_power_w"].widget == "number"
    assert fields["max_power_w"].value == ""


def test_chart_draws_three_series_and_handles_empty() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    points = [
        {
            "ts": (now - timedelta(minutes=m)).isoformat(),
            "grid_w": 1000.0 - m,
            "pv_w": 500.0,
            "charge_w": 2000.0,
        }
        for m in range(1440)
    ]
    html = chart.render(points, now=now)
    assert html.count("<path") == 3
    assert "kW" in html and "<svg" in html
    assert len(html) < 40_000  # downsampled
    assert "No history" in chart.render([], now=now)
    assert "keine" in chart.render([], now=now, empty_text="keine")


def test_a_young_history_fills_the_chart() -> None:
    """Ten minutes of history span the first hour, not a sliver at the right of 24 h."""
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    points = [
        {"ts": (now - timedelta(minutes=m)).isoformat(), "grid_w": 1000.0, "pv_w": 0.0}
        for m in range(10)
    ]
    html = chart.render(points, now=now)
    first_x = float(re.search(r'd="M([\d.]+) ', html).group(1))  # type: ignore[union-attr]
    assert first_x > 800  # 50 of 60 minutes in, of 1000: not at 993 as over 24 h
    assert html.count('class="ax" style="left:') >= 2  # the hour is labelled finer


def test_chart_downsample_averages() -> None:
    pts = [{"ts": str(i), "grid_w": float(i), "pv_w": None, "charge_w": 1.0} for i in range(10)]
    out = chart.downsample(pts, max_points=5)
    assert len(out) == 5
    assert out[0]["grid_w"] == 0.5 and out[0]["pv_w"] is None


def test_blank_state_has_every_field_the_tiles_read() -> None:
    out = State(evses=[EvseState(id="x")]).model_dump(mode="json")
    assert out["site"]["limit_a"] == [None, None, None]
    for e in out["evses"]:
        assert e["status"] == "offline" and len(e["current_a"]) == 3 and e["reason"] is None


def test_numbers_sent_are_finite() -> None:
    """A device's NaN or infinity is sent as null; a reason cannot carry one at all."""
    meter = MeterState(power_w=math.nan, current_a=(1.0, math.inf, -math.inf))
    assert meter.power_w is None and meter.current_a == (1.0, None, None)
    with pytest.raises(ValidationError):
        ReasonState(code="at_max", params={"amps": math.nan})


def test_every_template_text_has_a_german_translation() -> None:
    root = Path(__file__).resolve().parent.parent
    texts: set[str] = set()
    sources = [*(root / "templates").glob("*.html"), *(root / "web").glob("*.py")]
    for path in (p for p in sources if p.name != "i18n.py"):
        texts |= set(re.findall(r'\b_\(\s*"([^"]+)"', path.read_text(encoding="utf-8")))
    german = {**DE, **DE_FIELDS, **users_words.DE, **views_words.DE}
    missing = sorted(t for t in texts if t not in german)
    assert not missing


async def test_revoking_ends_earlier_sessions_only() -> None:
    clock = Clock(1_000_000.0)
    auth, _ = make_auth(clock=clock)
    old, _ = auth.new_session()
    clock.t += 1
    await auth.revoke_sessions()
    clock.t += 1
    new, sid = auth.new_session()
    assert auth.session_id(old) is None
    assert auth.session_id(new) == sid


def test_one_secret_rule_for_the_api_and_the_forms() -> None:
    """A driver's `api_token` is hidden by the API and shown as a password field, alike."""
    stored = {"name": "Box", "api_token": "t0k3n", "tls_key": "k", "password": None}
    assert public(stored) == {
        "name": "Box",
        "api_token_set": True,
        "tls_key_set": True,
        "password_set": False,
    }
    schema = {
        "properties": {
            "api_token": {"type": "string"},
            "pin": {"type": "string", "writeOnly": True},
            "host": {"type": "string"},
        }
    }
    fields = {f.name: f for f in fields_from_schema(schema, {"api_token_set": True, "host": "h"})}
    assert fields["api_token"].widget == "password" and fields["api_token"].secret_set
    assert fields["pin"].widget == "password"
    assert fields["host"].widget != "password"


async def test_logout_ends_only_that_session() -> None:
    auth, _ = make_auth()
    mine, _ = auth.new_session()
    other, other_sid = auth.new_session()
    await auth.end_session(mine)
    assert auth.session_id(mine) is None
    assert auth.session_id(other) == other_sid
    await auth.end_session("forged.cookie")  # nothing to end, no error

"""The web API against a real `ampshare serve` process: login, CSRF, 422s, CRUD, SSE, throttling."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from manager_process import PASSWORD, ManagerProcess
from ports import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerProcess]:
    proc = ManagerProcess("serve", data_dir=tmp_path_factory.mktemp("web") / "data")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def anon(proc: ManagerProcess) -> httpx.Client:
    return httpx.Client(base_url=proc.url, timeout=10.0)


def browser_login(proc: ManagerProcess) -> tuple[httpx.Client, str]:
    """Logs in through the login form like a browser; returns the client and the page CSRF."""
    client = anon(proc)
    page = client.get("/login")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "login form carries a CSRF token"
    resp = client.post(
        "/login",
        data={"password": PASSWORD, "csrf_token": token.group(1), "next": "/settings"},
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/settings"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    dash = client.get("/")
    assert dash.status_code == 200
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', dash.text)
    assert csrf
    return client, csrf.group(1)


def concrete(path: str) -> str:
    return path.replace("{id}", "nonexistent")


def test_everything_but_login_and_static_needs_login(serve: ManagerProcess) -> None:
    doc = serve.api.get("/api/openapi.json").json()
    with anon(serve) as client:
        for path, item in doc["paths"].items():
            for method in ("get", "post", "patch", "delete"):
                if method in item and item[method].get("security") != []:  # health: public
                    if path == "/metrics":  # its own guard, tested in test_operations
                        continue
                    resp = client.request(method.upper(), concrete(path))
                    assert resp.status_code == 401, (method, path, resp.status_code)
                    assert resp.json() == {"error": "login required"}
        resp = client.get("/api/state")
        assert resp.headers["www-authenticate"].startswith("Basic")
        for page in ("/", "/settings", "/sessions", "/events", "/devices/new", "/circuits/main"):
            resp = client.get(page)
            assert resp.status_code == 303, page
            assert resp.headers["location"].startswith("/login?next=")
        assert client.get("/login").status_code == 200
        css = client.get("/static/app.css")
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        assert client.get("/api/state", auth=("admin", "wrong")).status_code == 401
        assert client.get("/api/state", auth=("root", PASSWORD)).status_code == 401
    with httpx.Client(base_url=serve.url, cookies={"ampshare_session": "forged.value"}) as forged:
        assert forged.get("/api/state").status_code == 401
    assert serve.api.get("/api/state").status_code == 200


def test_bad_input_names_the_field_and_stores_nothing(serve: ManagerProcess) -> None:
    before = serve.api.get("/api/devices").json()
    resp = serve.api.post(
        "/api/devices",
        json={"kind": "evse", "driver": "sim-evse", "name": "X", "max_current_a": "lots"},
    )
    assert resp.status_code == 422
    assert any(e["field"] == "max_current_a" for e in resp.json()["errors"])
    assert serve.api.get("/api/devices").json() == before

    # an unknown charging mode and phase setting: both named, nothing stored
    box = {"kind": "evse", "driver": "sim-evse", "name": "Modes"}
    resp = serve.api.post(
        "/api/devices", json={**box, "charge_mode": "fast", "phase_switching": "2p"}
    )
    assert resp.status_code == 422
    assert {e["field"] for e in resp.json()["errors"]} == {"charge_mode", "phase_switching"}
    assert serve.api.get("/api/devices").json() == before
    made = serve.api.post("/api/devices", json={**box, "charge_mode": "pv"}).json()
    assert made["charge_mode"] == "pv" and made["phase_switching"] == "auto"
    resp = serve.api.patch(f"/api/devices/{made['id']}", json={"charge_mode": "solar"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "charge_mode"
    assert serve.api.get(f"/api/devices/{made['id']}").json()["charge_mode"] == "pv"
    assert serve.api.delete(f"/api/devices/{made['id']}").status_code in (200, 204)
    resp = serve.api.patch(
        "/api/settings", json={"site": {"battery_priority_soc": 80, "battery_discharge_soc": 20}}
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "site.battery_discharge_soc"

    resp = serve.api.patch("/api/settings", json={"site": {"max_current_a": -5}})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "site.max_current_a"

    # every mistake at once, in plain words of the reader's language, from codes
    three = {"kind": "evse", "driver": "ocpp", "name": "", "min_current_a": 20, "priority": 12}
    resp = serve.api.post("/api/devices", json=three, headers={"accept-language": "de"})
    assert resp.status_code == 422
    errors = {e["field"]: (e["code"], e["message"]) for e in resp.json()["errors"]}
    assert errors == {
        "name": ("string_too_short", "Bitte ausfüllen."),
        "priority": ("less_than_equal", "Darf nicht größer als 9 sein."),
        "min_current_a": (
            "min_above_max_current",
            "Der Mindeststrom darf nicht über dem Maximum (16 A) liegen.",
        ),
        "address": (
            "charge_box_id_required",
            "Bitte die ChargeBox-ID eingeben, die die Wallbox sendet.",
        ),
    }
    resp = serve.api.post("/api/devices", json={**three, "min_current_a": 6.5, "max_current_a": 6})
    by_field = {e["field"]: e["message"] for e in resp.json()["errors"]}
    assert by_field["min_current_a"] == "Minimum current must not be above maximum (6 A)."
    # Test connection needs only what the driver needs: no name, no valid priority
    probe = {"kind": "meter", "driver": "abb-b23", "name": "", "address": ""}
    resp = serve.api.post("/api/devices/test", json={**probe, "unit_id": 1})
    assert [e["field"] for e in resp.json()["errors"]] == ["address"]
    assert serve.api.get("/api/devices").json() == before

    resp = serve.api.post(
        "/api/devices", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "body"
    resp = serve.api.post("/api/users", json=["a list"])
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "body"
    resp = serve.api.get("/api/sessions", params={"since": "yesterday"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "since"
    resp = serve.api.get("/api/events/log", params={"limit": "many"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "limit"

    for path in ("/api/devices/nope", "/api/circuits/nope"):
        resp = serve.api.get(path)
        assert resp.status_code == 404 and "nope" in resp.json()["error"]
    assert serve.api.delete("/api/users/nope").status_code == 404
    assert serve.api.get("/api/does-not-exist").status_code == 404
    assert "Traceback" not in resp.text


def test_device_circuit_user_crud(serve: ManagerProcess) -> None:
    api = serve.api
    circuit = api.post("/api/circuits", json={"name": "Carport board", "max_current_a": 20})
    assert circuit.status_code == 201
    cid = circuit.json()["id"]
    assert cid and circuit.json()["parent"] == "main"
    assert any(c["id"] == cid for c in api.get("/api/circuits").json())
    patched = api.patch(f"/api/circuits/{cid}", json={"max_current_a": 25})
    assert patched.status_code == 200 and patched.json()["max_current_a"] == 25

    created = api.post(
        "/api/devices",
        json={"kind": "evse", "driver": "sim-evse", "name": "Web box", "circuit": cid},
    )
    assert created.status_code == 201, created.text
    device = created.json()
    assert device["id"] and device["name"] == "Web box" and device["circuit"] == cid
    assert api.get(f"/api/devices/{device['id']}").json()["name"] == "Web box"
    renamed = api.patch(f"/api/devices/{device['id']}", json={"name": "Web box 2"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Web box 2"
    serve.wait_for(lambda s: any(e["id"] == device["id"] for e in s["evses"]), timeout_s=10)

    busy = api.delete(f"/api/circuits/{cid}")
    assert busy.status_code == 422  # a box still hangs in it
    assert api.delete(f"/api/devices/{device['id']}").status_code == 204
    assert api.get(f"/api/devices/{device['id']}").status_code == 404
    assert api.delete(f"/api/circuits/{cid}").status_code == 204

    user = api.post("/api/users", json={"name": "Anna", "id_tag": "04AABBCC"})
    assert user.status_code == 201
    dup = api.post("/api/users", json={"name": "Bert", "id_tag": "04AABBCC"})
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"] == "id_tag"
    assert api.delete(f"/api/users/{user.json()['id']}").status_code == 204


def test_secrets_are_write_only(serve: ManagerProcess) -> None:
    resp = serve.api.patch("/api/settings", json={"ocpp": {"password": "cp-secret-123456"}})
    assert resp.status_code == 200
    body = resp.text + serve.api.get("/api/settings").text
    assert "cp-secret-123456" not in body
    assert resp.json()["ocpp"]["password_set"] is True
    client, _ = browser_login(serve)
    with closing(client):
        page = client.get("/settings")
        assert page.status_code == 200 and "cp-secret-123456" not in page.text
    serve.api.patch("/api/settings", json={"ocpp": {"password": None}})


def test_read_endpoints(serve: ManagerProcess) -> None:
    api = serve.api
    drivers = api.get("/api/drivers").json()
    assert {"sim-evse", "sim-meter"} <= {d["name"] for d in drivers}
    assert all("schema" in d for d in drivers)
    schemas = api.get("/api/schemas").json()
    assert "properties" in schemas["device"]["evse"] and "properties" in schemas["settings"]
    assert isinstance(api.get("/api/history").json(), list)
    assert isinstance(api.get("/api/events/log").json(), list)
    assert isinstance(api.get("/api/sessions", params={"since": "2020-01-01"}).json(), list)
    csv = api.get("/api/sessions.csv", params={"until": "2030-01-01"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert csv.text.splitlines()[0].startswith("id,")
    state = api.get("/api/state").json()
    assert {"site", "evses", "meters"} <= set(state)


def test_openapi_document_is_complete(serve: ManagerProcess) -> None:
    doc = serve.api.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    want = {
        "/api/state": {"get"},
        "/api/devices": {"get", "post"},
        "/api/devices/{id}": {"get", "patch", "delete"},
        "/api/devices/test": {"post"},
        "/api/circuits": {"get", "post"},
        "/api/circuits/{id}": {"get", "patch", "delete"},
        "/api/settings": {"get", "patch"},
        "/api/sessions": {"get"},
        "/api/sessions.csv": {"get"},
        "/api/users": {"get", "post"},
        "/api/users/{id}": {"delete"},
        "/api/events": {"get"},
        "/api/events/log": {"get"},
        "/api/drivers": {"get"},
        "/api/history": {"get"},
        "/api/ocpp/certificate": {"get", "post"},
        "/api/openapi.json": {"get"},
        "/api/health": {"get"},
        "/metrics": {"get"},
        "/api/backup": {"get"},
        "/api/restore": {"post"},
        "/api/log": {"get"},
    }
    for path, methods in want.items():
        assert path in doc["paths"], path
        assert methods <= set(doc["paths"][path]), path

    op_ids: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                target: Any = doc
                for part in ref.removeprefix("#/").split("/"):
                    target = target[part]  # KeyError = dangling reference
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    for item in doc["paths"].values():
        for method, op in item.items():
            if method == "parameters":
                continue
            assert op["responses"], method
            assert op["operationId"] not in op_ids
            op_ids.add(op["operationId"])


def test_cookie_session_needs_csrf_for_changes(serve: ManagerProcess) -> None:
    client, csrf = browser_login(serve)
    with closing(client):
        assert client.get("/api/settings").status_code == 200  # reading needs no token
        patch = {"site": {"reserve_a": 1.5}}
        no_token = client.patch("/api/settings", json=patch)
        assert no_token.status_code == 403 and "CSRF" in no_token.json()["error"]
        wrong = client.patch("/api/settings", json=patch, headers={"x-csrf-token": "x" + csrf})
        assert wrong.status_code == 403
        ok = client.patch("/api/settings", json=patch, headers={"x-csrf-token": csrf})
        assert ok.status_code == 200 and ok.json()["site"]["reserve_a"] == 1.5
        cross = client.patch(
            "/api/settings",
            json=patch,
            headers={"x-csrf-token": csrf, "origin": "http://evil.example"},
        )
        assert cross.status_code == 403
        assert client.post("/logout", data={}).status_code == 403
        out = client.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert client.get("/api/state").status_code == 401
    serve.api.patch("/api/settings", json={"site": {"reserve_a": 0}})


def test_login_form_rejects_missing_token_and_wrong_password(serve: ManagerProcess) -> None:
    with anon(serve) as client:
        client.get("/login")
        resp = client.post("/login", data={"password": PASSWORD})
        assert resp.status_code == 400 and "expired" in resp.text
        page = client.get("/login", params={"next": "//evil.example/"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        resp = client.post(
            "/login", data={"password": PASSWORD, "csrf_token": token, "next": "//evil.example/"}
        )
        assert resp.status_code == 303 and resp.headers["location"] == "/"


def test_state_matches_its_generated_schema(serve: ManagerProcess) -> None:
    doc = serve.api.get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for model, fields in {
        "EvseState": (
            "target_a",
            "phases_used",
            "max_current_a",
            "reason",
            "deactivation",
            "charge_mode",
            "phases_active",
            "pv_start_in_s",
            "pv_stop_in_s",
            "phase_switch_in_s",
        ),
        "MeterState": ("voltage_v",),
        "SiteState": ("safe_current_a", "safe_reason", "surplus_w", "solar_charge_w"),
        "ReasonState": ("code", "params", "cause", "text"),
    }.items():
        assert set(fields) <= set(schemas[model]["properties"]), model
    validator = Draft202012Validator({"$ref": "#/components/schemas/State", **doc})
    en = serve.api.get("/api/state", headers={"accept-language": "en"}).json()
    de = serve.api.get("/api/state", headers={"accept-language": "de"}).json()
    for state in (en, de):
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(state)]
        assert errors == []


def test_every_json_answer_matches_its_generated_schema(serve: ManagerProcess) -> None:
    """Each GET without a path parameter, answered as the document says (schemas from models)."""
    user = serve.api.post("/api/users", json={"name": "Anna", "id_tag": "04AB"}).json()
    box = {"kind": "evse", "driver": "ocpp", "name": "Schema box", "address": "SCHEMA1"}
    device = serve.api.post("/api/devices", json={**box, "password": "s3cret-pw"}).json()
    assert device["password_set"] is True
    doc = serve.api.get("/api/openapi.json").json()
    checked = []
    for path, item in doc["paths"].items():
        responses = item.get("get", {}).get("responses", {})
        if "{" in path or "application/json" not in responses.get("200", {}).get("content", {}):
            continue
        resp = serve.api.get(path)
        answer = responses.get(str(resp.status_code), {})  # /api/me/* is 422 for the admin
        answer = doc["components"]["responses"].get(answer.get("$ref", "").split("/")[-1], answer)
        schema = answer["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": doc["components"]})
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(resp.json())]
        assert errors == [], path
        checked.append(path)
    assert {"/api/circuits", "/api/settings", "/api/users", "/api/devices"} <= set(checked)
    assert serve.api.delete(f"/api/devices/{device['id']}").status_code == 204
    assert serve.api.delete(f"/api/users/{user['id']}").status_code == 204


def test_session_totals_and_decisions_answer_as_documented(serve: ManagerProcess) -> None:
    doc = serve.api.get("/api/openapi.json").json()
    op = doc["paths"]["/api/sessions/totals/{by}"]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    for by in ("day", "month", "evse", "user"):
        resp = serve.api.get(f"/api/sessions/totals/{by}", params={"month": "2026-11"})
        assert resp.status_code == 200 and not list(validator.iter_errors(resp.json())), by
    resp = serve.api.get("/api/sessions/totals/week")
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "by"
    resp = serve.api.get("/api/sessions/totals/day", params={"since": "soon"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "since"
    assert serve.api.get("/api/history/decisions", params={"evse": "nope"}).status_code == 404
    resp = serve.api.get("/api/history/decisions", params={"box": "x"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "box"


def test_sse_streams_snapshots(serve: ManagerProcess) -> None:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    with serve.api.stream(
        "GET", "/api/events", timeout=15.0, headers={"accept-language": "de"}
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
            if len({g["ts"] for g in got}) >= 2 or len(got) >= 6 or time.monotonic() > deadline:
                break
    assert "site" in got[0]
    assert len({g["ts"] for g in got}) >= 2  # new snapshots keep coming


def test_pages_render_in_both_languages(serve: ManagerProcess) -> None:
    client, _ = browser_login(serve)
    with closing(client):
        pages = ("/", "/settings", "/sessions", "/events", "/devices/new", "/circuits/main")
        for path in (*pages, "/decisions"):
            en = client.get(path, headers={"accept-language": "en-US,en;q=0.9"})
            assert en.status_code == 200, path
            de = client.get(path, headers={"accept-language": "de-DE,de;q=0.9"})
            assert de.status_code == 200 and '<html lang="de">' in de.text, path
        assert "Übersicht" in client.get("/", headers={"accept-language": "de"}).text
        switch = client.get("/lang/de", params={"next": "/events"})
        assert switch.status_code == 303 and switch.headers["location"] == "/events"
        assert "Ereignisse" in client.get("/events").text
        assert client.get("/devices/nope").status_code == 404


def test_repeated_failed_logins_are_slowed_down(tmp_path: Path) -> None:
    proc = ManagerProcess("serve", data_dir=tmp_path / "data")
    try:
        proc.wait_ready()
        with anon(proc) as client:
            statuses = []
            for _ in range(12):
                resp = client.get("/api/state", auth=("admin", "wrong-guess"))
                statuses.append(resp.status_code)
                if resp.status_code == 429:
                    assert int(resp.headers["retry-after"]) >= 1
                    break
            assert statuses[-1] == 429, statuses
            # the process checked the right password from this client just before: that
            # client stays logged in, but the login form is slowed down like any guess
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            form = client.post("/login", data={"password": "x", "csrf_token": token})
            assert form.status_code == 429 and "retry-after" in form.headers
    finally:
        proc.stop()


def self_signed() -> tuple[str, str]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ampshare-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_certificate_download_and_upload(serve: ManagerProcess) -> None:
    api = serve.api
    current = api.get("/api/ocpp/certificate")
    assert current.status_code == 200
    assert current.text.startswith("-----BEGIN CERTIFICATE-----")
    assert "attachment" in current.headers["content-disposition"]
    assert "PRIVATE KEY" not in current.text

    bad = api.post("/api/ocpp/certificate", json={"cert_pem": "nope", "key_pem": "nope"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"cert_pem", "key_pem"}

    cert, key = self_signed()
    mismatched = api.post(
        "/api/ocpp/certificate", json={"cert_pem": cert, "key_pem": self_signed()[1]}
    )
    assert mismatched.status_code == 422
    files = {"cert_pem": ("c.pem", cert.encode()), "key_pem": ("k.pem", key.encode())}
    ok = api.post("/api/ocpp/certificate", files=files)
    assert ok.status_code == 200, ok.text
    assert api.get("/api/ocpp/certificate").text.strip() == cert.strip()


def test_admin_password_change(serve: ManagerProcess) -> None:
    api = serve.api
    wrong = api.post(
        "/api/admin/password", json={"old_password": "nope", "new_password": "another-pw"}
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "old_password"
    short = api.post("/api/admin/password", json={"old_password": PASSWORD, "new_password": "x"})
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "new_password"
    missing = api.post("/api/admin/password", json={})
    assert missing.status_code == 422
    ok = api.post(
        "/api/admin/password", json={"old_password": PASSWORD, "new_password": "another-pw"}
    )
    assert ok.status_code == 200
    try:
        with anon(serve) as client:
            assert client.get("/api/state", auth=("admin", PASSWORD)).status_code == 401
            assert client.get("/api/state", auth=("admin", "another-pw")).status_code == 200
    finally:
        back = httpx.post(
            serve.url + "/api/admin/password",
            json={"old_password": "another-pw", "new_password": PASSWORD},
            auth=("admin", "another-pw"),
        )
        assert back.status_code == 200


def test_test_connection_answers_without_saving(serve: ManagerProcess) -> None:
    before = serve.api.get("/api/devices").json()
    closed = f"127.0.0.1:{free_port()}"
    resp = serve.api.post(
        "/api/devices/test",
        json={"kind": "meter", "driver": "sdm630", "name": "probe", "address": closed},
    )
    assert resp.status_code == 200
    assert resp.json()["ok"] is False and resp.json()["error"]
    bad = serve.api.post("/api/devices/test", json={"kind": "meter", "driver": "nope"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "driver"
    assert serve.api.get("/api/devices").json() == before


def test_password_change_ends_other_browser_sessions(serve: ManagerProcess) -> None:
    mine, csrf = browser_login(serve)
    other, _ = browser_login(serve)
    with closing(mine), closing(other):
        resp = mine.post(
            "/api/admin/password",
            json={"old_password": PASSWORD, "new_password": "changed-pw"},
            headers={"x-csrf-token": csrf},
        )
        assert resp.status_code == 200
        fresh = resp.json()["csrf"]
        assert "httponly" in resp.headers["set-cookie"].lower()
        assert other.get("/api/state").status_code == 401  # the other browser must log in again
        assert mine.get("/api/state").status_code == 200  # this one goes on
        back = mine.post(
            "/api/admin/password",
            json={"old_password": "changed-pw", "new_password": PASSWORD},
            headers={"x-csrf-token": fresh},
        )
        assert back.status_code == 200

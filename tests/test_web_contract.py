"""`/api/openapi.json` against the running server: the limits it enforces are declared, the
live data matches the schemas, and generated requests (schemathesis) never get a 5xx.

The document is fetched from the server, so these tests hold whatever generates it; the limits
are compared with the pydantic models the server validates with.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from manager_process import PASSWORD, ManagerProcess
from schemathesis import checks as st_checks

from manager.auth import MIN_PASSWORD
from manager.config import CircuitConfig
from manager.users import UserConfig

pytestmark = pytest.mark.slow

LIMITS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
)
#: examples per operation; about 40 operations x this many real requests (~40-60 s in all)
FUZZ_EXAMPLES = 20
FUZZ_BUDGET_S = 90.0

#: a restore upload is raw bytes (a gzip'd tar): sent as schemathesis sends any binary body
schemathesis.serializer.alias("application/gzip", "application/octet-stream")


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerProcess]:
    proc = ManagerProcess("serve", data_dir=tmp_path_factory.mktemp("contract") / "data")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def doc(serve: ManagerProcess) -> dict[str, Any]:
    return serve.api.get("/api/openapi.json").json()


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follows $ref (components or $defs) and merges the non-null branches of anyOf."""
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "anyOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "anyOf"}
        for branch in schema["anyOf"]:
            branch = resolve(branch, root)
            if branch.get("type") != "null":
                merged.update(branch)
        schema = merged
    return schema


def limits(schema: dict[str, Any]) -> dict[str, Any]:
    out = {k: schema[k] for k in LIMITS if k in schema}
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if "enum" in out:
        out["enum"] = sorted(map(str, out["enum"]))
    return out


def declared(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    """The properties of a schema in the document (path below components/schemas)."""
    node = resolve(doc["components"]["schemas"][path[0]], doc)
    for name in path[1:]:
        node = resolve(node["properties"][name], doc)
    return {k: resolve(v, doc) for k, v in node.get("properties", {}).items()}


def enforced(model_schema: dict[str, Any], *defs: str) -> dict[str, Any]:
    node = model_schema
    for name in defs:
        node = resolve(node["properties"][name], model_schema)
    return {k: resolve(v, model_schema) for k, v in node.get("properties", {}).items()}


def assert_declares(doc_props: dict[str, Any], model_props: dict[str, Any], what: str) -> None:
    for name, prop in model_props.items():
        want = limits(prop)
        if not want:
            continue
        assert name in doc_props, f"{what}.{name}: enforced {want}, not in the document"
        got = limits(doc_props[name])
        assert got == want, f"{what}.{name}: document says {got}, server enforces {want}"


def test_every_enforced_limit_is_declared(serve: ManagerProcess, doc: dict[str, Any]) -> None:
    server = serve.api.get("/api/schemas").json()
    settings_schema = server["settings"]
    for section in settings_schema["properties"]:  # every section the server has
        assert_declares(
            declared(doc, "Settings", section),
            enforced(settings_schema, section),
            f"Settings.{section}",
        )
    device = doc["components"]["schemas"]["Device"]["anyOf"]
    for kind, schema in (("evse", "EvseConfig"), ("meter", "MeterConfig")):
        assert {"$ref": f"#/components/schemas/{schema}"} in device
        model = {k: v for k, v in enforced(server["device"][kind]).items() if k != "kind"}
        assert_declares(declared(doc, schema), model, f"Device ({kind})")
    assert_declares(
        declared(doc, "Circuit"), enforced(CircuitConfig.model_json_schema()), "Circuit"
    )
    assert_declares(declared(doc, "User"), enforced(UserConfig.model_json_schema()), "User")
    change = declared(doc, "PasswordChange")
    assert change["new_password"]["minLength"] == MIN_PASSWORD


def test_declared_query_limits_are_the_enforced_ones(
    serve: ManagerProcess, doc: dict[str, Any]
) -> None:
    checked = 0
    for path, item in doc["paths"].items():
        for param in item.get("get", {}).get("parameters", []):
            schema = param["schema"]
            if "minimum" not in schema:
                continue
            lo, hi, name = schema["minimum"], schema["maximum"], param["name"]
            for value, status in ((lo, 200), (hi, 200), (lo - 1, 422), (hi + 1, 422)):
                resp = serve.api.get(path, params={name: value})
                assert resp.status_code == status, (path, name, value, resp.status_code)
            checked += 1
    assert checked >= 2


def validator(doc: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_state_and_the_event_stream_match_their_schemas(
    serve: ManagerProcess, doc: dict[str, Any]
) -> None:
    box = {"name": "Box", "kind": "evse", "driver": "sim-evse", "car": "3p16"}
    assert serve.api.post("/api/devices", json=box).status_code == 201
    state = serve.wait_for(lambda s: bool(s["evses"]))
    validator(doc, "State").validate(state)

    response = doc["paths"]["/api/events"]["get"]["responses"]["200"]
    media = response["content"]["text/event-stream"]
    assert media["x-event-data"] == {"$ref": "#/components/schemas/State"}
    with serve.api.stream("GET", "/api/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + 15
        for line in stream.iter_lines():
            assert time.monotonic() < deadline
            if line.startswith("data:"):
                validator(doc, "State").validate(json.loads(line[5:]))
                break


def test_the_live_event_stream_words_new_events(serve: ManagerProcess) -> None:
    box = {"name": "Live box", "kind": "evse", "driver": "sim-evse", "car": "3p16"}
    created = serve.api.post("/api/devices", json=box).json()
    headers = {"accept-language": "de"}
    with serve.api.stream("GET", "/api/events/live", headers=headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        patch = serve.api.patch(f"/api/devices/{created['id']}", json={"enabled": False})
        assert patch.status_code == 200
        deadline = time.monotonic() + 15
        for line in lines:
            assert time.monotonic() < deadline
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event["kind"] == "deactivated":
                    break
        assert event["kind_text"] == "Zurückgegeben"
        assert event["device_name"] == "Live box"
        assert event["text"].startswith("Live box an die eigene Steuerung zurückgegeben")


def test_generated_requests_never_get_a_5xx_and_answers_match_the_spec(
    serve: ManagerProcess, doc: dict[str, Any]
) -> None:
    """schemathesis over every operation but the endless event stream, with admin login."""
    schema = schemathesis.openapi.from_dict(doc)
    checks = [
        getattr(st_checks, name)
        for name in (
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
        )
    ]
    started = time.monotonic()
    operations = 0
    with requests.Session() as session:
        session.auth = ("admin", PASSWORD)
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path in ("/api/events", "/api/events/live"):
                continue  # endless by design; checked above
            operations += 1

            @given(case=operation.as_strategy())
            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded in time
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                keep_own_ports(case, serve)
                case.cookies = {}  # the login is Basic; a made-up session cookie is ignored
                try:
                    response = case.call(base_url=serve.url, session=session, timeout=15)
                except requests.RequestException as exc:
                    what = f"{case.operation.label} {case.query} {case.body!r:.300}"
                    raise AssertionError(f"no answer to {what}") from exc
                case.validate_response(response, checks=checks)

            run()
            assert time.monotonic() - started < FUZZ_BUDGET_S * 2
    assert operations >= 25


def keep_own_ports(case: schemathesis.Case, serve: ManagerProcess) -> None:
    """Generated settings must not move the OCPP server onto a port another program uses."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("ocpp"), dict) and "port" in body["ocpp"]:
        body["ocpp"]["port"] = serve.ocpp_port

"""Config storage: atomic writes, and a broken file stops start-up instead of being replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ports import free_port

from manager.config import CircuitConfig, Settings
from manager.configstore import ConfigStore
from manager.store import CorruptDataError


def test_roundtrip_and_schema_version(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    settings = Settings()
    settings.site.max_current_a = 25.0
    store.save_settings(settings)
    store.put_circuit(CircuitConfig(id="garage", name="Garage", max_current_a=16))
    store.put_device({"id": "b1", "name": "Box", "kind": "evse", "driver": "sim-evse"})
    store.close()

    again = ConfigStore(tmp_path)
    assert again.settings().site.max_current_a == 25.0
    assert [c.id for c in again.circuits()] == ["garage"]
    assert again.devices()[0]["name"] == "Box"
    raw = json.loads((tmp_path / "config.json").read_text())
    assert raw["meta"]["1"]["schema_version"] == 1


@pytest.mark.parametrize("content", ["{not json", "", "[1, 2]"])
def test_corrupt_file_is_refused_and_left_alone(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(CorruptDataError) as err:
        ConfigStore(tmp_path)
    assert str(path) in str(err.value)
    assert path.read_text() == content


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"meta": {"1": {"schema_version": 99, "secret": "00"}}}))
    with pytest.raises(CorruptDataError, match="newer"):
        ConfigStore(tmp_path)


def test_no_temp_files_left_behind(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    for i in range(20):
        store.put_device({"id": f"d{i}", "name": f"D{i}", "kind": "meter", "driver": "sim-meter"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


# -- damaged files: one sentence naming the file, nothing rewritten -------------------------

SECRET = "ab" * 32


def config(**tables: object) -> dict[str, object]:
    return {"meta": {"1": {"schema_version": 1, "secret": SECRET}}, **tables}


def as_bytes(data: object) -> bytes:
    return json.dumps(data).encode()


DAMAGED = {
    "invalid UTF-8": b'{"meta": {"1": {"schema_version": 1, "secret": "\xff\xfe"}}}',
    "a value of the wrong type": as_bytes(
        config(settings={"1": {"site": {"max_current_a": "lots"}}})
    ),
    "a section of the wrong type": as_bytes(config(settings={"1": {"site": [1, 2]}})),
    "a table that is not an object": as_bytes(config(circuits=[{"id": "a"}])),
    "an entry that is not an object": as_bytes(config(users={"1": "anna"})),
    "a circuit cycle": as_bytes(
        config(
            circuits={
                "1": {"id": "a", "name": "A", "parent": "b", "max_current_a": 16},
                "2": {"id": "b", "name": "B", "parent": "a", "max_current_a": 16},
            }
        )
    ),
    "a session secret that is not hex": as_bytes(
        {"meta": {"1": {"schema_version": 1, "secret": "not-hex"}}}
    ),
    "a session secret that is too short": as_bytes(
        {"meta": {"1": {"schema_version": 1, "secret": "00ff"}}}
    ),
    "a schema version that is text": as_bytes({"meta": {"1": {"schema_version": "1"}}}),
    "a device without an id": as_bytes(config(devices={"1": {"name": "Box"}})),
    "a user of the wrong type": as_bytes(
        config(users={"1": {"id": "anna", "name": "Anna", "id_tag": 42}})
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_every_kind_of_damage_is_refused_in_one_sentence(tmp_path: Path, case: str) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(DAMAGED[case])
    with pytest.raises(CorruptDataError) as err:
        ConfigStore(tmp_path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    assert path.read_bytes() == DAMAGED[case]


def test_a_fifo_instead_of_the_config_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "config.json")
    with pytest.raises(CorruptDataError, match="not a regular file"):
        ConfigStore(tmp_path)


def serve_damaged(data: Path, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "manager.cli", "serve", "--host", "127.0.0.1",
            "--data", str(data), "--http-port", str(free_port()),
            "--ocpp-port", str(free_port())]  # fmt: skip
    env = {**os.environ, "AMPSHARE_ADMIN_PASSWORD": "test-admin-pw"}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, env=env)


EVSE = {"id": "box", "name": "Box", "kind": "evse", "driver": "sim-evse", "enabled": True}
SERVE_CASES = {
    **{
        name: ("config.json", DAMAGED[name])
        for name in (
            "invalid UTF-8",
            "a value of the wrong type",
            "a table that is not an object",
            "a circuit cycle",
            "a session secret that is not hex",
        )
    },
    "a device field of the wrong type (driver rules)": (
        "config.json",
        as_bytes(config(devices={"1": {**EVSE, "max_current_a": "x"}})),
    ),
    "a damaged events file": ("events/events-2026-01.json", b'{"_default": {"1": 5}}'),
    "a damaged history file": ("history.json", b'{"points": [1, 2]}'),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(SERVE_CASES))
def test_serve_stops_on_damage_with_one_sentence_and_rewrites_nothing(
    tmp_path: Path, case: str
) -> None:
    name, content = SERVE_CASES[case]
    data = tmp_path / "data"
    path = data / name
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    if name != "config.json":
        (data / "config.json").write_bytes(as_bytes(config()))
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    done = serve_damaged(data)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], done.stderr
    assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_serve_on_a_fifo_config_stops_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(data / "config.json")
    done = serve_damaged(data, timeout_s=30)
    assert done.returncode == 2 and "not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_box_stored_before_a_rule_still_starts(tmp_path: Path) -> None:
    """An OCPP box saved without ChargeBox ID (allowed once) starts; other mistakes stop it."""
    from devices.driver import DeviceContext
    from manager.app import DriverTable
    from manager.config import validate_device

    check = DriverTable(DeviceContext()).check
    store = ConfigStore(tmp_path)
    store.put_device({"id": "old", "name": "Old", "kind": "evse", "driver": "ocpp", "address": ""})
    store.check_devices(lambda device: validate_device(device, check))
    store.put_device({"id": "bad", "name": "", "kind": "evse", "driver": "ocpp", "address": ""})
    with pytest.raises(CorruptDataError, match="'bad'"):
        store.check_devices(lambda device: validate_device(device, check))
    store.close()

"""Config storage: atomic writes, and a broken file stops start-up instead of being replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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

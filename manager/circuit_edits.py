"""Editing the circuit tree: the sub-boards, and the grid connection `main` (from the settings).

Part of the facade (`manager.service.Service` inherits it): every change is validated against
the whole tree before it is stored, then handed to the control loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from manager.config import (
    ROOT_CIRCUIT,
    CircuitConfig,
    InvalidInput,
    NotFound,
    check_tree,
    new_id,
    root_circuit,
)
from manager.configstore import ConfigStore
from manager.control import ControlLoop


class CircuitEdits:
    store: ConfigStore
    control: ControlLoop
    _lock: asyncio.Lock

    if TYPE_CHECKING:

        async def update_settings(self, patch: dict[str, Any]) -> dict[str, Any]: ...

    def circuit_schema(self) -> dict[str, Any]:
        """JSON schema of a sub-board as a form edits it (its id is made from the name)."""
        schema = CircuitConfig.model_json_schema()
        schema["properties"].pop("id", None)
        schema["required"] = [f for f in schema.get("required", []) if f != "id"]
        return schema

    def _grid_meter_id(self) -> str | None:
        grids = sorted(
            d["id"]
            for d in self.store.devices()
            if d["kind"] == "meter" and d.get("role") == "grid" and d.get("enabled", True)
        )
        return grids[0] if grids else None

    def list_circuits(self) -> list[dict[str, Any]]:
        root = root_circuit(self.store.settings().site, self._grid_meter_id())
        return [root, *(c.model_dump(mode="json") for c in self.store.circuits())]

    def get_circuit(self, circuit_id: str) -> dict[str, Any]:
        for c in self.list_circuits():
            if c["id"] == circuit_id:
                return c
        raise NotFound(f"no circuit {circuit_id!r}")

    def _check_circuit(self, circuit: CircuitConfig, others: list[CircuitConfig]) -> None:
        check_tree([*others, circuit])
        if circuit.meter is not None:
            meters = {d["id"] for d in self.store.devices() if d["kind"] == "meter"}
            if circuit.meter not in meters:
                raise InvalidInput.one(
                    "meter", f"unknown meter {circuit.meter!r}", "unknown_meter", id=circuit.meter
                )

    async def create_circuit(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        async with self._lock:
            others = self.store.circuits()
            taken = {c.id for c in others} | {ROOT_CIRCUIT}
            try:
                circuit = CircuitConfig.model_validate({**data, "id": new_id(data, taken)})
            except ValidationError as exc:
                raise InvalidInput.from_pydantic(exc) from None
            self._check_circuit(circuit, others)
            self.store.put_circuit(circuit)
            self.control.set_circuits(self.store.circuits())
        return circuit.model_dump(mode="json")

    async def update_circuit(self, circuit_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        if circuit_id == ROOT_CIRCUIT:
            return await self._update_root(patch)
        async with self._lock:
            others = [c for c in self.store.circuits() if c.id != circuit_id]
            old = self.get_circuit(circuit_id)
            if "id" in patch and patch["id"] != circuit_id:
                raise InvalidInput.one("id", "cannot be changed", "immutable")
            try:
                circuit = CircuitConfig.model_validate({**old, **patch})
            except ValidationError as exc:
                raise InvalidInput.from_pydantic(exc) from None
            self._check_circuit(circuit, others)
            self.store.put_circuit(circuit)
            self.control.set_circuits(self.store.circuits())
        return circuit.model_dump(mode="json")

    async def _update_root(self, patch: dict[str, Any]) -> dict[str, Any]:
        allowed = {"max_current_a", "max_power_w", "max_unbalance_a", "reserve_a"}
        site_patch = {k: v for k, v in patch.items() if k in allowed}
        for key in patch.keys() - allowed:
            if patch[key] != self.get_circuit(ROOT_CIRCUIT).get(key):
                raise InvalidInput.one(
                    key, "the grid connection takes this from elsewhere", "root_field"
                )
        await self.update_settings({"site": site_patch})
        return self.get_circuit(ROOT_CIRCUIT)

    async def delete_circuit(self, circuit_id: str) -> None:
        if circuit_id == ROOT_CIRCUIT:
            raise InvalidInput.one("id", "the grid connection cannot be deleted", "root_delete")
        async with self._lock:
            self.get_circuit(circuit_id)
            users = [d["name"] for d in self.store.devices() if d.get("circuit") == circuit_id]
            users += [c.name for c in self.store.circuits() if c.parent == circuit_id]
            if users:
                names = ", ".join(sorted(users))
                msg = f"circuit still has {names}; move them first"
                raise InvalidInput.one("id", msg, "circuit_in_use", names=names)
            self.store.delete_circuit(circuit_id)
            self.control.set_circuits(self.store.circuits())

"""The facade the web talks to: live state, configuration changes, sessions, events, login.

Every change is validated completely before anything is stored, stored atomically, and then
applied to the running manager at once (no restart). The web layer never sees devices/.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from pydantic import ValidationError

from manager.auth import AdminLogin, LoginThrottle, Throttled
from manager.authorize import authorization_errors
from manager.circuit_edits import CircuitEdits
from manager.config import (
    ROOT_CIRCUIT,
    CircuitConfig,
    EvseConfig,
    InvalidInput,
    MeterConfig,
    NotFound,
    Settings,
    is_secret,
    merge_secrets,
    new_id,
    probe_fields,
    public,
    validate_device,
)
from manager.configstore import ConfigStore
from manager.control import ControlLoop
from manager.events import EventLog
from manager.history import History
from manager.operations import Operations, Unavailable
from manager.rule_edits import RuleEdits, check_plan
from manager.session_facade import SessionsFacade
from manager.state import ChargePoint, EvseState, MeterState, State
from manager.stations import Stations, UnknownStationAction
from manager.store import WriteFailed
from manager.tagdesk import TagDesk
from manager.teachin import TeachIn
from manager.timeline import DecisionTimeline
from manager.transfers import TransferError, Transfers
from manager.user_service import UsersFacade
from manager.users import UserBook, UserConfig

log = logging.getLogger("ampshare.service")

#: the live state's models, for the web edge (which imports only this facade and the model)
__all__ = [
    "ROOT_CIRCUIT",
    "ChargePoint",
    "CircuitConfig",
    "DecisionTimeline",
    "EvseConfig",
    "EvseState",
    "InvalidInput",
    "MeterConfig",
    "MeterState",
    "NotFound",
    "Service",
    "Settings",
    "State",
    "Throttled",
    "TransferError",
    "Unavailable",
    "UserConfig",
    "WriteFailed",
    "is_secret",
]


class DriverCatalog(Protocol):
    """What the facade needs to know about drivers; the composition root provides it."""

    def drivers(self) -> list[dict[str, Any]]: ...

    def check(
        self, driver: str, kind: str, address: str, fields: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def probe(self, device: dict[str, Any], timeout_s: float) -> dict[str, Any]: ...


class SessionQuery(Protocol):
    def list(
        self,
        since: str | None = None,
        until: str | None = None,
        evse: str | None = None,
        user: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def to_csv(self, rows: list[dict[str, Any]]) -> str: ...


class OcppControl(Protocol):
    """The running OCPP server as far as the facade drives it."""

    def charge_points(self) -> list[dict[str, Any]]: ...

    async def apply_settings(self, settings: Settings) -> None: ...

    def certificate_pem(self) -> str: ...

    def import_certificate(self, cert_pem: str, key_pem: str) -> None: ...


class Service(CircuitEdits, SessionsFacade, UsersFacade, RuleEdits):
    """The one entry point of the web (and the CLI) into the running manager."""

    def __init__(
        self,
        *,
        store: ConfigStore,
        control: ControlLoop,
        events: EventLog,
        catalog: DriverCatalog,
        history: History,
        sessions: SessionQuery | None = None,
        ocpp: OcppControl | None = None,
        throttle: LoginThrottle | None = None,
        users: UserBook | None = None,
        teach: TeachIn | None = None,
        stations: Stations | None = None,
        desk: TagDesk | None = None,
    ) -> None:
        self.store = store
        self.control = control
        self.events = events
        self.catalog = catalog
        self._history = history
        self.sessions = sessions
        self.ocpp = ocpp
        self.users = users or UserBook(store)
        self.teach = teach or TeachIn(self.users)
        self.device_listeners: list[Callable[[], None]] = []
        self.login = AdminLogin(store, throttle or LoginThrottle())
        self.stations = stations
        #: where tags are decided (manager/tagdesk.py): a start from the dashboard goes there
        self.desk = desk
        self._lock = asyncio.Lock()
        #: health, metrics, log view, backup and restore (manager/operations.py)
        self.ops = Operations(control=control, store=store, events=events, lock=self._lock)

    # -- start-up ------------------------------------------------------------------------
    async def load(self) -> None:
        """Hand the stored configuration to the control loop."""
        self.control.set_settings(self.store.settings())
        self.control.set_circuits(self.store.circuits())
        await self.control.set_devices(self.store.devices())

    # -- live state ----------------------------------------------------------------------
    def state(self) -> State:
        return self.control.snapshot()

    def subscribe(self) -> AsyncIterator[State]:
        return self.control.subscribe()

    def history(self, hours: float = 24.0) -> list[dict[str, Any]]:
        return self._history.recent(hours)

    def recent_events(self, limit: int = 200) -> list[dict[str, Any]]:
        return self.events.recent(limit)

    def follow_events(self) -> AsyncIterator[dict[str, Any]]:
        return self.events.follow()

    def charge_points(self) -> list[dict[str, Any]]:
        """Charge points seen by the OCPP server, marked whether a device is configured."""
        if self.ocpp is None:
            return []
        known = {
            str(d.get("address"))
            for d in self.store.devices()
            if d.get("driver") == "ocpp" and d.get("kind") == "evse"
        }
        return [{**cp, "configured": cp.get("id") in known} for cp in self.ocpp.charge_points()]

    # -- drivers -------------------------------------------------------------------------
    def drivers(self) -> list[dict[str, Any]]:
        return self.catalog.drivers()

    def device_schema(self, kind: str) -> dict[str, Any]:
        model = {"evse": EvseConfig, "meter": MeterConfig}.get(kind)
        if model is None:
            raise NotFound(f"no device kind {kind!r}")
        return model.model_json_schema()

    # -- devices -------------------------------------------------------------------------
    def list_devices(self) -> list[dict[str, Any]]:
        return [public(d) for d in sorted(self.store.devices(), key=lambda d: d["name"])]

    def _device(self, device_id: str) -> dict[str, Any]:
        for d in self.store.devices():
            if d["id"] == device_id:
                return d
        raise NotFound(f"no device {device_id!r}")

    def get_device(self, device_id: str) -> dict[str, Any]:
        return public(self._device(device_id))

    def _validate_device(self, data: dict[str, Any]) -> dict[str, Any]:
        device = validate_device(data, self.catalog.check)
        circuits = {c.id for c in self.store.circuits()} | {ROOT_CIRCUIT}
        if device["kind"] == "evse" and device["circuit"] not in circuits:
            raise InvalidInput.one("circuit", f"unknown circuit {device['circuit']!r}")
        if device["kind"] == "evse":
            errors = authorization_errors(device, self.users)
            if errors:
                raise InvalidInput(errors)
        return device

    async def create_device(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        async with self._lock:
            taken = {d["id"] for d in self.store.devices()}
            check_plan(data)
            device = self._validate_device({**data, "id": new_id(data, taken)})
            self.store.put_device(device)
            await self.control.set_devices(self.store.devices())
            self.devices_changed()
        log.info("device %s added (%s, %s)", device["id"], device["kind"], device["driver"])
        return public(device)

    async def update_device(self, device_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        async with self._lock:
            old = self._device(device_id)
            for key in ("id", "kind"):
                if key in patch and patch[key] != old[key]:
                    raise InvalidInput.one(key, "cannot be changed; delete and add instead")
            check_plan(patch, old)  # a plan time given now must lie ahead
            device = self._validate_device(merge_secrets(old, patch))
            if old.get("enabled", True) and not device.get("enabled", True):
                await self._release(old)
            self.store.put_device(device)
            await self.control.set_devices(self.store.devices())
            self.devices_changed()
        return public(device)

    async def _release(self, device: dict[str, Any]) -> None:
        if device["kind"] != "evse":
            return
        if self.store.settings().ocpp.clear_profiles_on_deactivate:
            await self.control.deactivate(device["id"])

    async def delete_device(self, device_id: str) -> None:
        async with self._lock:
            device = self._device(device_id)
            try:
                for c in self.store.circuits():
                    if c.meter == device_id:
                        self.store.put_circuit(c.model_copy(update={"meter": None}))
                if device.get("enabled", True):
                    await self._release(device)
                self.store.delete_device(device_id)
            finally:  # also after a failed write: run exactly what is stored
                self.control.set_circuits(self.store.circuits())
                await self.control.set_devices(self.store.devices())
                self.devices_changed()

    async def test_device(self, data: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
        """Read a device once with the given settings, without saving it."""
        if not isinstance(data, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        given = data.get("id")
        if given is not None and not isinstance(given, str):
            raise InvalidInput.one("id", "expected text")
        base = {**data, "id": given or "probe"}
        if base["id"] in {d["id"] for d in self.store.devices()}:
            base = merge_secrets(self._device(base["id"]), data)
        device = validate_device(probe_fields(base), self.catalog.check)
        return await self.catalog.probe(device, timeout_s)

    # -- settings ------------------------------------------------------------------------
    def get_settings(self) -> dict[str, Any]:
        data = self.store.settings().model_dump(mode="json")
        return {section: public(values) for section, values in data.items()}

    def settings_schema(self) -> dict[str, Any]:
        return Settings.model_json_schema()

    async def update_settings(self, patch: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        async with self._lock:
            old = self.store.settings()
            data = old.model_dump(mode="json")
            for section, values in patch.items():
                if section not in data:
                    raise InvalidInput.one(section, "unknown section")
                if not isinstance(values, dict):
                    raise InvalidInput.one(section, "expected an object")
                data[section] = merge_secrets(data[section], values)
            try:
                settings = Settings.model_validate(data)
            except ValidationError as exc:
                raise InvalidInput.from_pydantic(exc) from None
            self.store.save_settings(settings)  # a failed write changes nothing that runs
            if self.ocpp is not None and settings.ocpp != old.ocpp:
                try:
                    await self.ocpp.apply_settings(settings)
                except ValueError as exc:  # e.g. the port is taken: back to what runs
                    self.store.save_settings(old)
                    raise InvalidInput.one("ocpp.port", str(exc)) from None
            self.control.set_settings(settings)
        return self.get_settings()

    # -- station management (admin actions on charge points) -----------------------------
    async def station_action(
        self, charge_box_id: str, action: str, params: Any, who: str
    ) -> dict[str, Any]:
        """The box's answer `{"status", "payload"}`, audited; raises NotFound, InvalidInput,
        manager.model.StationOffline (not connected) or StationTimeout (no answer)."""
        if self.stations is None:
            raise NotFound("the OCPP server is not running")
        try:
            return await self.stations.run(charge_box_id, action, params, who)
        except UnknownStationAction as exc:
            raise NotFound(str(exc.args[0])) from None

    def station(self, charge_box_id: str) -> dict[str, Any]:
        found = self.stations.station(charge_box_id) if self.stations else None
        if found is None:
            raise NotFound(f"no charge point {charge_box_id!r} seen since start")
        return found

    def audit_log(self, limit: int = 200, box: str | None = None) -> list[dict[str, Any]]:
        return self.stations.audit.recent(limit, box) if self.stations else []

    def transfers(self) -> Transfers:
        """Firmware and log files, and the one-time URLs boxes use (see manager.transfers)."""
        if self.stations is None:
            raise NotFound("the OCPP server is not running")
        return self.stations.transfers

    # -- OCPP certificates ---------------------------------------------------------------
    def certificate_pem(self) -> str:
        if self.ocpp is None:
            raise NotFound("the OCPP server is not running")
        return self.ocpp.certificate_pem()

    async def import_certificate(self, cert_pem: str, key_pem: str) -> None:
        if self.ocpp is None:
            raise NotFound("the OCPP server is not running")
        try:
            self.ocpp.import_certificate(cert_pem, key_pem)
        except ValueError as exc:
            raise InvalidInput.one("certificate", str(exc)) from None
        await self.ocpp.apply_settings(self.store.settings())

    # -- admin login (manager.auth.AdminLogin does the work) ---------------------------------
    def has_admin_password(self) -> bool:
        return self.login.has_password()

    async def verify_admin(self, password: str, client: str) -> bool:
        return await self.login.verify(password, client)

    def set_admin_password_now(self, new: str) -> None:
        self.login.set_now(new)

    async def set_admin_password(self, old: str, new: str) -> None:
        await self.login.change(old, new)

    def session_secret(self) -> bytes:
        return self.store.session_secret()

    def session_generation(self) -> int:
        return self.login.session_generation()

    def session_revoked(self, session_id: str) -> bool:
        return self.login.session_revoked(session_id)

    async def end_session(self, session_id: str, expires: int) -> None:
        await self.login.end_session(session_id, expires)

    async def end_all_sessions(self) -> None:
        await self.login.end_all_sessions()

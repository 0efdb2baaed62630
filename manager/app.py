"""The composition root: the one place that wires drivers, control loop, facade, OCPP and web."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from devices import registry
from devices.driver import DeviceContext, Driver
from devices.modbus.bus import BusPool
from devices.ocpp.gateway_hub import GatewayHub
from devices.ocpp.server import OcppServer
from devices.ocpp.settings import OcppSettings
from devices.ocpp.station import StationDesk
from devices.ocpp.station_ca import LocalCA
from devices.probe import probe
from devices.sim import SimWorld
from manager import backup, integrations
from manager.audit import AuditLog
from manager.authorize import Authorizer
from manager.config import (
    COMMON_FIELDS,
    InvalidInput,
    Settings,
    validate_device,
)
from manager.configstore import ConfigStore
from manager.control import ControlLoop
from manager.cycles import cycle_every_interval
from manager.events import EventLog
from manager.history import History
from manager.model import Evse, Meter
from manager.mqtt import MqttBridge
from manager.ocpp_sessions import OcppSessions
from manager.service import Service
from manager.sessions import SessionStore
from manager.startup import (  # noqa: F401  (the CLI and tests take them from here)
    ADMIN_ENV,
    Options,
    default_data_dir,
    ensure_admin_password,
    seed_demo,
)
from manager.station_display import ReasonDisplay
from manager.stations import Stations
from manager.tagdesk import TagDesk
from manager.teachin import TeachIn
from manager.transfers import Transfers
from manager.users import UserBook
from manager.webserver import listen_socket, serve
from web.app import create_app
from web.wording import shown, word

log = logging.getLogger("ampshare")


class DriverTable:
    """The facade's view of the driver registry (validation, schemas, test connection)."""

    def __init__(self, ctx: DeviceContext) -> None:
        self.table: dict[str, Driver] = registry.drivers()
        self.ctx = ctx

    def drivers(self) -> list[dict[str, Any]]:
        return [
            {
                "name": d.name,
                "kind": d.kind,
                "title": d.title,
                "testable": d.testable,
                "schema": d.options.model_json_schema(),
            }
            for d in sorted(self.table.values(), key=lambda d: (d.kind, d.title))
        ]

    def check(self, driver: str, kind: str, address: str, fields: dict[str, Any]) -> dict[str, Any]:
        found = self.table.get(driver)
        if found is None:
            raise InvalidInput.one("driver", f"unknown driver {driver!r}")
        if found.kind != kind:
            raise InvalidInput.one("driver", f"{found.title} is not a {kind}")
        if found.check_address is not None:
            try:
                found.check_address(address)
            except ValueError as exc:
                raise InvalidInput.one("address", str(exc)) from None
        unknown = set(fields) - set(found.options.model_fields) - COMMON_FIELDS[kind]
        if unknown:
            raise InvalidInput([{"field": k, "message": "unknown field"} for k in sorted(unknown)])
        try:
            return registry.validate_options(found, fields)
        except ValidationError as exc:
            raise InvalidInput.from_pydantic(exc) from None

    def build(self, config: Mapping[str, Any]) -> Meter | Evse:
        return registry.build(registry.spec_of(config), self.ctx, self.table)

    async def probe(self, device: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        return await probe(registry.spec_of(device), self.ctx, timeout_s)


class OcppBridge:
    """Both sides between the manager and the OCPP server: its hooks, and its controls."""

    def __init__(
        self,
        store: ConfigStore,
        sessions: SessionStore,
        events: EventLog,
        local_ca: LocalCA,
        desk: TagDesk,
    ) -> None:
        self.store = store
        self.desk = desk
        self.sessions = OcppSessions(sessions, store, desk)
        self.events = events
        self.host = "0.0.0.0"
        self.server: OcppServer | None = None
        self.local_ca = local_ca

    # hooks the server calls
    def authorize(self, id_tag: str) -> bool:
        """A local user who may charge somewhere (enabled, not expired)."""
        user = self.desk.auth.users.by_tag(id_tag)
        return self.desk.auth.check_user(user, user.evses if user else []).accepted

    async def check_tag(
        self, charge_box_id: str, connector: int | None, id_tag: str | None, protocol: str | None
    ) -> str | None:
        return await self.desk.check_ocpp(charge_box_id, connector, id_tag, protocol)

    def _device(self, charge_box_id: str) -> dict[str, Any] | None:
        for d in self.store.devices():
            if d.get("driver") == "ocpp" and d.get("address") == charge_box_id:
                return d
        return None

    def local_list(self, charge_box_id: str) -> dict[str, dict[str, Any]] | None:
        return self.desk.local_list(charge_box_id)

    def device_password(self, charge_box_id: str) -> str | None:
        device = self._device(charge_box_id)
        return (device.get("password") or None) if device else None

    def is_released(self, charge_box_id: str) -> bool:
        device = self._device(charge_box_id)
        return (
            device is not None
            and not device.get("enabled", True)
            and self.store.settings().ocpp.clear_profiles_on_deactivate
        )

    # controls the facade uses
    def server_settings(self, settings: Settings) -> OcppSettings:
        o = settings.ocpp
        return OcppSettings(
            host=self.host,
            port=o.port,
            tls=o.tls,
            password=o.password,
            unknown_tags=o.unknown_tags,
            ca_pem=self.trusted_ca(o),
        )

    def trusted_ca(self, o: Any) -> str | None:
        """The CA client certificates must chain to: the configured one and, with the local CA
        on, ampshare's own (security profile 3 without an outside PKI)."""
        parts = [o.ca_pem or "", self.local_ca.certificate_pem() if o.local_ca else ""]
        return "".join(p for p in parts if p) or None

    def use_local_ca(self, settings: Settings) -> None:
        """Station settings the server reads live: the local CA (CSRs of boxes are signed
        only with it on) and the tariff for the running cost on 2.0.1 boxes."""
        if self.server is not None:
            self.server.station.signer = self.local_ca.sign if settings.ocpp.local_ca else None
            self.server.station.tariff_per_kwh = settings.ocpp.tariff_per_kwh

    def charge_points(self) -> list[dict[str, Any]]:
        return self.server.charge_points() if self.server else []

    async def apply_settings(self, settings: Settings) -> None:
        if self.server is not None:
            await self.server.apply_settings(self.server_settings(settings))
            self.use_local_ca(settings)

    def certificate_pem(self) -> str:
        assert self.server is not None
        return self.server.certificate_pem()

    def import_certificate(self, cert_pem: str, key_pem: str) -> None:
        assert self.server is not None
        self.server.import_certificate(cert_pem, key_pem)


@dataclass
class Manager:
    """Everything one running manager consists of, wired; `start`/`close` bracket its life."""

    store: ConfigStore
    sessions: SessionStore
    events: EventLog
    ocpp: OcppServer
    ctx: DeviceContext
    control: ControlLoop
    service: Service
    audit: AuditLog
    gateways: GatewayHub
    #: MQTT, metrics, the log view (manager/integrations.py)
    integrations: integrations.Integrations | None = None

    @property
    def mqtt(self) -> MqttBridge | None:
        return self.integrations.mqtt if self.integrations else None

    async def start(self) -> None:
        try:
            await self.ocpp.start()
        except OSError as exc:  # the manager still protects the fuse without its OCPP server
            self.events("ocpp", f"OCPP server cannot listen on port {self.ocpp.port}: {exc}")
        await self.service.load()
        await self.control.cycle()
        if self.integrations is not None:
            self.integrations.start()

    async def close(self) -> None:
        if self.integrations is not None:
            await self.integrations.close()
        await self.control.close()
        await self.gateways.close()
        await self.ocpp.stop()
        await self.ctx.buses.close()
        self.sessions.close()
        self.events.close()
        self.audit.close()
        self.store.close()


def open_data(data_dir: Path) -> tuple[ConfigStore, EventLog, SessionStore, History, AuditLog]:
    """Every data file, read strictly before anything is written; CorruptDataError names a
    bad one."""
    store = ConfigStore(data_dir)  # reads and validates all but the devices
    drivers = DriverTable(DeviceContext())
    store.check_devices(lambda device: validate_device(device, drivers.check))
    history = History(data_dir / "history.json")
    return store, EventLog(data_dir), SessionStore(data_dir), history, AuditLog(data_dir)


def check_data(data_dir: Path) -> None:
    """A staged restore is read as start-up reads it, so no restore switches in data that the
    manager would then refuse to start on."""
    store, _, sessions, _, audit = open_data(data_dir)
    for part in (store, sessions, audit):
        part.close()


def build_manager(opts: Options) -> Manager:
    """Opens the data directory and wires every part; raises CorruptDataError on a bad file."""
    store, events, sessions, history, audit = open_data(opts.data_dir)
    # written only now that everything stored is known to load, and only what changes
    if opts.demo and not store.devices():
        seed_demo(store)
    store.migrate_users()
    settings = store.settings()
    if opts.ocpp_port is not None and opts.ocpp_port != settings.ocpp.port:
        settings.ocpp.port = opts.ocpp_port
        store.save_settings(settings)

    users = UserBook(store)
    control: ControlLoop | None = None

    def wallboxes() -> list[dict[str, Any]]:  # the control loop's, in memory
        return [st.config for st in control.evses.values()] if control is not None else []

    authorizer = Authorizer(users, wallboxes)
    tag_desk = TagDesk(authorizer, TeachIn(users), authorizer.devices, events)
    local_ca = LocalCA(opts.data_dir / "ocpp" / "ca")
    bridge = OcppBridge(store, sessions, events, local_ca, tag_desk)
    bridge.host = opts.host
    ocpp = OcppServer(bridge.server_settings(store.settings()), bridge, opts.data_dir)
    bridge.server = ocpp
    bridge.use_local_ca(store.settings())
    users.listeners.append(lambda _change: ocpp.refresh_local_lists())
    ctx = DeviceContext(
        sim=SimWorld(seed=int(time.time()) if opts.demo else 1), ocpp=ocpp, buses=BusPool()
    )
    catalog = DriverTable(ctx)
    control = ControlLoop(build_device=catalog.build, events=events, sessions=sessions)
    control.rules.keep_in(opts.data_dir, control.wall)  # the limit and prices on disk
    ocpp.station.on_reservation_end = control.reservations.cancel
    gateways = GatewayHub(opts.data_dir, events, bridge.authorize, ocpp)
    control.gateways = gateways
    control.authorizer = authorizer
    control.observer.tags = tag_desk
    tag_desk.gateways = gateways
    ocpp.observer = gateways
    desk = StationDesk(ocpp)
    stations = Stations(
        desk,
        audit,
        events,
        store.devices,
        control.reservations,
        Transfers(opts.data_dir),
        http_port=opts.http_port,
    )
    service = Service(
        store=store,
        control=control,
        events=events,
        catalog=catalog,
        history=history,
        sessions=sessions,
        ocpp=bridge,
        users=users,
        teach=tag_desk.teach,
        stations=stations,
        desk=tag_desk,
    )
    service.device_listeners = [ocpp.refresh_local_lists]
    control.on_cycle.append(history.add)
    control.on_cycle.append(
        ReasonDisplay(
            desk,
            store.devices,
            lambda: control.settings.ocpp.show_reasons,
            words=lambda reason: word(reason, "en"),
        )
    )
    control.charge_points = service.charge_points
    manager = Manager(store, sessions, events, ocpp, ctx, control, service, audit, gateways)
    manager.integrations = integrations.wire(
        service, control, events, opts.data_dir, lambda state: shown(state, "en")
    )
    return manager


async def run(opts: Options, *, ready: asyncio.Event | None = None) -> None:
    """Runs the manager until cancelled or until uvicorn gets SIGINT/SIGTERM.

    A restore from the web stops the manager, switches the checked data in and starts again.
    """
    # a demo's data is a temporary folder of its own: nothing to guard
    with contextlib.nullcontext() if opts.demo else backup.DataLock(opts.data_dir):
        while True:
            staged = await _run_once(opts, ready=ready)
            if staged is None:
                return
            await asyncio.to_thread(backup.switch, staged, opts.data_dir)
            log.warning("restarting on the restored data")


async def _run_once(opts: Options, *, ready: asyncio.Event | None = None) -> Path | None:
    """One life of the manager; returns a staged restore to switch to, if one was asked for."""
    t0 = time.monotonic()
    sock = listen_socket(opts.host, opts.http_port)  # first: a taken port fails before anything
    manager = build_manager(opts)
    service, control = manager.service, manager.control
    generated = ensure_admin_password(service, opts.admin_password)
    if generated:
        print(f"ampshare: admin password (change it in Settings): {generated}", flush=True)

    async with AsyncExitStack() as stack:
        stack.push_async_callback(manager.close)
        await manager.start()
        # what start-up built lives for good: keep it out of the collector's full passes,
        # which otherwise pause the process for ~0.2 s with 1000 OCPP connections
        gc.collect()
        gc.freeze()

        stack.callback(cycle_every_interval(control))

        restore: list[Path] = []
        stop = asyncio.Event()

        def restart_with(staged: Path) -> None:
            restore.append(staged)
            # after the answer to the restore request has gone out
            asyncio.get_running_loop().call_later(0.5, stop.set)

        service.ops.restart_with, service.ops.check_staged = restart_with, check_data
        await serve(
            create_app(service),
            sock,
            opts.host,
            opts.http_port,
            started_at=t0,
            ready=ready,
            stop=stop,
        )
    return restore[-1] if restore else None

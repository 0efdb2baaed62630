"""The composition root: the one place that wires drivers, control loop, facade, OCPP and web."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
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
from manager.audit import AuditLog
from manager.config import (
    COMMON_FIELDS,
    InvalidInput,
    Settings,
)
from manager.configstore import ConfigStore
from manager.control import ControlLoop
from manager.events import EventLog
from manager.history import History
from manager.model import Evse, Meter
from manager.schedule_edges import ScheduleEdges
from manager.service import Service
from manager.sessions import SessionStore
from manager.startup import (  # noqa: F401  (the CLI and tests take them from here)
    ADMIN_ENV,
    Options,
    default_data_dir,
    ensure_admin_password,
    seed_demo,
)
from manager.state import State
from manager.station_display import ReasonDisplay
from manager.stations import Stations
from manager.transfers import Transfers
from manager.webserver import listen_socket, serve
from web.app import create_app
from web.wording import word

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


class OcppSessions:
    """The session recorder the OCPP server gets: files sessions under the configured device
    (not the ChargeBox ID) and names the user of the RFID tag, like every other session."""

    def __init__(self, sessions: SessionStore, store: ConfigStore) -> None:
        self.sessions = sessions
        self.store = store

    def start(
        self,
        evse: str,
        connector: int,
        id_tag: str | None,
        started_at: str,
        meter_start_wh: float | None,
        *,
        key: str | None = None,
        user: str | None = None,
        box: str | None = None,
    ) -> int:
        # the key stays on the ChargeBox ID, so a start resent after the box was added as a
        # device is still the same session
        key = key or f"ocpp|{evse}|{connector}|{id_tag}|{started_at}|{meter_start_wh}"
        device = next(
            (
                d
                for d in self.store.devices()
                if d.get("driver") == "ocpp"
                and d.get("address") == evse
                and int(d.get("connector_id", 1)) == connector
            ),
            None,
        )
        if user is None and id_tag:
            owner = self.store.user_by_tag(id_tag)
            user = owner.name if owner else None
        if device is not None:
            evse, box = str(device["id"]), str(device["name"])
        return self.sessions.start(
            evse, connector, id_tag, started_at, meter_start_wh, key=key, user=user, box=box
        )

    def stop(
        self,
        transaction_id: int,
        stopped_at: str,
        meter_stop_wh: float | None,
        reason: str | None = None,
        signed_data: list[object] | None = None,
        *,
        meter_start_wh: float | None = None,
    ) -> Mapping[str, object] | None:
        return self.sessions.stop(
            transaction_id,
            stopped_at,
            meter_stop_wh,
            reason,
            signed_data,
            meter_start_wh=meter_start_wh,
        )

    def find(self, key: str) -> int | None:
        return self.sessions.find(key)

    def open_sessions(self) -> list[dict[str, Any]]:
        return self.sessions.open_sessions()

    def annotate(self, transaction_id: int, fields: Mapping[str, Any]) -> None:
        self.sessions.annotate(transaction_id, fields)


class OcppBridge:
    """Both sides between the manager and the OCPP server: its hooks, and its controls."""

    def __init__(
        self, store: ConfigStore, sessions: SessionStore, events: EventLog, local_ca: LocalCA
    ) -> None:
        self.store = store
        self.sessions = OcppSessions(sessions, store)
        self.events = events
        self.host = "0.0.0.0"
        self.server: OcppServer | None = None
        self.local_ca = local_ca

    # hooks the server calls
    def authorize(self, id_tag: str) -> bool:
        return self.store.user_by_tag(id_tag) is not None

    def _device(self, charge_box_id: str) -> dict[str, Any] | None:
        for d in self.store.devices():
            if d.get("driver") == "ocpp" and d.get("address") == charge_box_id:
                return d
        return None

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

    async def start(self) -> None:
        try:
            await self.ocpp.start()
        except OSError as exc:  # the manager still protects the fuse without its OCPP server
            self.events("ocpp", f"OCPP server cannot listen on port {self.ocpp.port}: {exc}")
        await self.service.load()
        await self.control.cycle()

    async def close(self) -> None:
        await self.control.close()
        await self.gateways.close()
        await self.ocpp.stop()
        await self.ctx.buses.close()
        self.sessions.close()
        self.audit.close()
        self.store.close()


def build_manager(opts: Options) -> Manager:
    """Opens the data directory and wires every part; raises CorruptDataError on a bad file."""
    store = ConfigStore(opts.data_dir)
    if opts.demo and not store.devices():
        seed_demo(store)
    if opts.ocpp_port is not None:
        settings = store.settings()
        settings.ocpp.port = opts.ocpp_port
        store.save_settings(settings)

    events = EventLog()
    sessions = SessionStore(opts.data_dir)
    bridge = OcppBridge(store, sessions, events, LocalCA(opts.data_dir / "ocpp" / "ca"))
    bridge.host = opts.host
    ocpp = OcppServer(bridge.server_settings(store.settings()), bridge, opts.data_dir)
    bridge.server = ocpp
    bridge.use_local_ca(store.settings())
    ctx = DeviceContext(
        sim=SimWorld(seed=int(time.time()) if opts.demo else 1), ocpp=ocpp, buses=BusPool()
    )
    catalog = DriverTable(ctx)
    control = ControlLoop(build_device=catalog.build, events=events, sessions=sessions)
    control.rules.keep_in(opts.data_dir, control.wall)  # the limit and prices on disk
    ocpp.station.on_reservation_end = control.reservations.cancel
    gateways = GatewayHub(opts.data_dir, events, bridge.authorize, ocpp)
    control.gateways = gateways
    ocpp.observer = gateways
    history = History(opts.data_dir / "history.json")
    audit = AuditLog(opts.data_dir)
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
        stations=stations,
    )
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
    return Manager(store, sessions, events, ocpp, ctx, control, service, audit, gateways)


async def run(opts: Options, *, ready: asyncio.Event | None = None) -> None:
    """Runs the manager until cancelled or until uvicorn gets SIGINT/SIGTERM."""
    t0 = time.monotonic()
    sock = listen_socket(opts.host, opts.http_port)  # first: a taken port fails before anything
    manager = build_manager(opts)
    service, control, store = manager.service, manager.control, manager.store
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

        scheduler = AsyncIOScheduler()
        interval = store.settings().site.control_interval_s

        def follow_interval(_: State) -> None:
            nonlocal interval
            wanted = control.settings.site.control_interval_s
            if wanted != interval:
                interval = wanted
                scheduler.reschedule_job("control", trigger="interval", seconds=wanted)
                log.info("control interval now %.1f s", wanted)

        control.on_cycle.append(follow_interval)
        scheduler.add_job(
            control.cycle,
            "interval",
            seconds=interval,
            id="control",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        control.on_cycle.append(ScheduleEdges(scheduler, control).follow)  # window edges
        scheduler.start()
        stack.callback(scheduler.shutdown, wait=False)

        await serve(
            create_app(service),
            sock,
            opts.host,
            opts.http_port,
            started_at=t0,
            ready=ready,
        )

"""Prometheus metrics: the live snapshot, the control loop's timing, OCPP and events.

One registry per manager (no module-level default registry), so tests and several managers in
one process do not share counters. Gauges are read from the latest snapshot when scraped, so a
scrape costs nothing between scrapes and never touches a device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from manager.version import VERSION

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PHASE_NAMES = ("L1", "L2", "L3")
#: event kinds that are errors an operator wants to alert on
ERROR_KINDS = frozenset({"offline", "overload", "safe_mode", "profile_rejected", "ocpp", "mqtt"})
_CYCLE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

Snapshot = Mapping[str, Any]


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


class _StateCollector(Collector):
    """Gauges from the latest snapshot and the OCPP server's charge-point list."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        charge_points: Callable[[], list[dict[str, Any]]],
        extra: Callable[[], Mapping[str, float]],
    ) -> None:
        self.snapshot = snapshot
        self.charge_points = charge_points
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot() or {}
        yield from _site(snap.get("site") or {})
        yield from _evses(snap.get("evses") or [])
        yield from _meters(snap.get("meters") or [])
        yield from _ocpp(self.charge_points())
        info = GaugeMetricFamily("ampshare_build_info", "Version of ampshare", labels=["version"])
        info.add_metric([VERSION], 1.0)
        yield info
        for name, value in self.extra().items():
            yield GaugeMetricFamily(name, name.replace("_", " "), value=value)


def _site(site: Mapping[str, Any]) -> Iterator[Metric]:
    grid = GaugeMetricFamily(
        "ampshare_site_grid_current_amperes", "Grid current per phase", labels=["phase"]
    )
    for name, value in zip(PHASE_NAMES, site.get("grid_a") or (), strict=False):
        if _num(value) is not None:
            grid.add_metric([name], float(value))
    yield grid
    plain = (
        ("grid_w", "ampshare_site_grid_power_watts", "Grid power, import positive"),
        ("pv_w", "ampshare_site_pv_power_watts", "PV power"),
        ("charge_w", "ampshare_site_charging_power_watts", "Power of all wallboxes"),
        ("safe_mode", "ampshare_site_safe_mode", "1 while the site runs in safe mode"),
    )
    for key, name, text in plain:
        value = _num(site.get(key))
        if value is not None:
            yield GaugeMetricFamily(name, text, value=value)
    limit = site.get("limit_a") or ()
    if limit and _num(limit[0]) is not None:
        yield GaugeMetricFamily(
            "ampshare_site_limit_amperes", "Main fuse per phase", value=float(limit[0])
        )


def _evses(evses: list[Mapping[str, Any]]) -> Iterator[Metric]:
    labels = ["wallbox", "name"]
    current = GaugeMetricFamily(
        "ampshare_wallbox_current_amperes", "Wallbox current per phase", labels=[*labels, "phase"]
    )
    families = {
        "power_w": GaugeMetricFamily(
            "ampshare_wallbox_power_watts", "Wallbox power", labels=labels
        ),
        "setpoint_a": GaugeMetricFamily(
            "ampshare_wallbox_setpoint_amperes", "Current offered to the car", labels=labels
        ),
        "session_wh": GaugeMetricFamily(
            "ampshare_wallbox_session_energy_watthours", "Energy of this session", labels=labels
        ),
        "online": GaugeMetricFamily(
            "ampshare_wallbox_online", "1 while the wallbox answers", labels=labels
        ),
        "enabled": GaugeMetricFamily(
            "ampshare_wallbox_enabled", "1 while ampshare controls the wallbox", labels=labels
        ),
    }
    status = GaugeMetricFamily(
        "ampshare_wallbox_status", "1 for the wallbox's current status", labels=[*labels, "status"]
    )
    for e in evses:
        ids = [str(e.get("id")), str(e.get("name"))]
        for phase, value in zip(PHASE_NAMES, e.get("current_a") or (), strict=False):
            if _num(value) is not None:
                current.add_metric([*ids, phase], float(value))
        for key, family in families.items():
            value = _num(e.get(key))
            if value is not None:
                family.add_metric(ids, value)
        status.add_metric([*ids, str(e.get("status"))], 1.0)
    yield current
    yield from families.values()
    yield status


def _meters(meters: list[Mapping[str, Any]]) -> Iterator[Metric]:
    labels = ["meter", "name", "role"]
    current = GaugeMetricFamily(
        "ampshare_meter_current_amperes", "Meter current per phase", labels=[*labels, "phase"]
    )
    power = GaugeMetricFamily("ampshare_meter_power_watts", "Meter power", labels=labels)
    energy = GaugeMetricFamily(
        "ampshare_meter_energy_import_watthours", "Imported energy counter", labels=labels
    )
    online = GaugeMetricFamily("ampshare_meter_online", "1 while the meter answers", labels=labels)
    for m in meters:
        ids = [str(m.get("id")), str(m.get("name")), str(m.get("role"))]
        for phase, value in zip(PHASE_NAMES, m.get("current_a") or (), strict=False):
            if _num(value) is not None:
                current.add_metric([*ids, phase], float(value))
        for family, key in ((power, "power_w"), (energy, "energy_wh"), (online, "online")):
            value = _num(m.get(key))
            if value is not None:
                family.add_metric(ids, value)
    yield from (current, power, energy, online)


def _ocpp(charge_points: list[Mapping[str, Any]]) -> Iterator[Metric]:
    connected = sum(1 for cp in charge_points if cp.get("connected"))
    yield GaugeMetricFamily(
        "ampshare_ocpp_connections", "Charge points connected now", value=float(connected)
    )
    messages = CounterMetricFamily(
        "ampshare_ocpp_messages_received",
        "OCPP frames received from a charge point since the manager started",
        labels=["charge_point"],
    )
    for cp in charge_points:
        if _num(cp.get("messages")) is not None:
            messages.add_metric([str(cp.get("id"))], float(cp["messages"]))
    yield messages


class Metrics:
    """The manager's registry; the composition root feeds it cycles and events."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        charge_points: Callable[[], list[dict[str, Any]]],
        extra: Callable[[], Mapping[str, float]] = dict,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.cycle = Histogram(
            "ampshare_control_cycle_seconds",
            "Time of one control cycle: read, model, allocate, apply, publish",
            buckets=_CYCLE_BUCKETS,
            registry=self.registry,
        )
        self.allocation = Histogram(
            "ampshare_allocation_seconds",
            "Time the allocator took in one cycle",
            buckets=_CYCLE_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "ampshare_events", "Events by kind", labelnames=["kind"], registry=self.registry
        )
        self.errors = Counter(
            "ampshare_errors", "Errors by kind", labelnames=["kind"], registry=self.registry
        )
        self.registry.register(_StateCollector(snapshot, charge_points, extra))

    def observe_cycle(self, cycle_s: float, allocation_s: float) -> None:
        self.cycle.observe(cycle_s)
        self.allocation.observe(allocation_s)

    def count_event(self, event: Mapping[str, Any]) -> None:
        kind = str(event.get("kind"))
        self.events.labels(kind).inc()
        if kind in ERROR_KINDS:
            self.errors.labels(kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

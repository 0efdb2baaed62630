"""The charging modes on a simulated site with a controlled clock: off, pv, minpv, plan as pv,
the surplus as budget rows, the start and stop delays, 1p/3p switching, and the inputs."""

from __future__ import annotations

import math
from typing import Any

import pytest
from clock import Clock

from devices import registry
from devices.driver import DeviceContext
from devices.sim import SimWorld
from manager.allocation import allocate
from manager.config import Settings, SiteSettings, validate_device
from manager.control import ControlLoop
from manager.events import EventLog
from manager.modeconfig import migrate_device
from manager.model import Budget, Circuit, EvseLoad, Reason, Site
from manager.surplus import SurplusMeter, battery_rule


class SolarSite:
    """A control loop with a sim grid meter and boxes; PV set by `pv_w`, no household events."""

    def __init__(self, pv_w: float = 0.0, **site: Any) -> None:
        self.clock = Clock(1000.0)
        self.pv = pv_w
        self.world = SimWorld(clock=self.clock, base_load_a=(0.5, 0.5, 0.5))
        self.world.pv_curve = lambda hour: self.pv
        self.world._next_event = math.inf
        ctx = DeviceContext(sim=self.world)
        table = registry.drivers()
        self.events = EventLog()
        self.loop = ControlLoop(
            build_device=lambda cfg: registry.build(registry.spec_of(cfg), ctx, table),
            events=self.events,
            clock=self.clock,
        )
        settings = Settings()
        settings.site.max_current_a = 32.0
        settings.site.max_unbalance_a = None
        settings.site.surplus_reserve_w = 0.0
        for key, value in site.items():
            setattr(settings.site, key, value)
        self.loop.set_settings(settings)
        self.devices: dict[str, dict[str, Any]] = {
            "grid": {"id": "grid", "name": "grid", "kind": "meter", "driver": "sim-meter"}
        }

    def add(self, dev_id: str, **cfg: Any) -> None:
        self.devices[dev_id] = {
            "id": dev_id,
            "name": dev_id,
            "kind": "evse",
            "driver": "sim-evse",
            "car": "3p16",
            "max_current_a": 16.0,
            **cfg,
        }

    async def run(self, seconds: int) -> dict[str, Any]:
        await self.loop.set_devices(list(self.devices.values()))
        snap: dict[str, Any] = {}
        for _ in range(seconds):
            self.clock.t += 1.0
            snap = (await self.loop.cycle()).model_dump(mode="json")
        return snap

    @staticmethod
    def evse(snap: dict[str, Any], dev_id: str) -> dict[str, Any]:
        return next(e for e in snap["evses"] if e["id"] == dev_id)


async def test_off_keeps_the_box_under_control_at_zero() -> None:
    site = SolarSite(pv_w=10000)
    site.add("a", charge_mode="off")
    snap = await site.run(30)
    a = site.evse(snap, "a")
    assert a["enabled"] is True and a["setpoint_a"] == 0.0
    assert a["reason"]["code"] == "mode_off" and a["charge_mode"] == "off"
    assert site.world.evses["a"].offer_a == 0.0  # 0 A is sent, the box is not handed back


async def test_now_charges_at_the_max_whatever_the_sun() -> None:
    site = SolarSite(pv_w=0)
    site.add("a", charge_mode="now")
    snap = await site.run(30)
    assert site.evse(snap, "a")["setpoint_a"] == 16.0


async def test_pv_waits_counts_down_and_follows_the_surplus() -> None:
    site = SolarSite(pv_w=1000, pv_enable_delay_s=20, surplus_average_s=0)
    site.add("a", charge_mode="pv")
    snap = await site.run(5)
    a = site.evse(snap, "a")
    assert a["setpoint_a"] == 0.0 and a["reason"]["code"] == "pv_waiting"
    assert a["reason"]["params"]["need_w"] == 4140  # 6 A on 3 phases
    assert snap["site"]["surplus_w"] == pytest.approx(1000 - 345, abs=5)
    site.pv = 7000
    snap = await site.run(5)
    a = site.evse(snap, "a")
    assert a["reason"]["code"] == "pv_starting" and 10 <= a["pv_start_in_s"] <= 20
    snap = await site.run(40)
    a = site.evse(snap, "a")
    # surplus 7000 - 345 W shared by one 3-phase box: about 9.6 A, the budget row binds
    assert a["setpoint_a"] == pytest.approx((7000 - 345) / 690, abs=0.4)
    assert a["reason"]["code"] == "pv_budget"
    assert snap["site"]["grid_w"] == pytest.approx(0.0, abs=150)  # no import for the car


async def test_pv_pauses_only_after_the_disable_delay() -> None:
    site = SolarSite(pv_w=7000, pv_enable_delay_s=0, pv_disable_delay_s=30, surplus_average_s=0)
    site.add("a", charge_mode="pv")
    await site.run(30)
    site.pv = 500
    snap = await site.run(10)
    a = site.evse(snap, "a")
    # the slow average still covers it: kept at its min through the cloud
    assert a["setpoint_a"] == 6.0 and a["reason"]["code"] in ("pv_bridging", "pv_stopping")
    snap = await site.run(1200)
    a = site.evse(snap, "a")
    assert a["setpoint_a"] == 0.0 and a["reason"]["code"] == "pv_waiting"


async def test_minpv_keeps_its_min_and_takes_the_surplus_above() -> None:
    site = SolarSite(pv_w=0, surplus_average_s=0)
    site.add("a", charge_mode="minpv")
    snap = await site.run(30)
    assert site.evse(snap, "a")["setpoint_a"] == 6.0
    site.pv = 9000
    snap = await site.run(40)
    assert site.evse(snap, "a")["setpoint_a"] == pytest.approx((9000 - 345) / 690, abs=0.4)


async def test_plan_without_a_plan_charges_now_and_says_so() -> None:
    """The rules (manager/mode_rules.py) turn `plan` into now, pv or off; without energy and
    time there is nothing to plan, so the car is not left waiting."""
    site = SolarSite(pv_w=0)
    site.add("a", charge_mode="plan")
    snap = await site.run(5)
    a = site.evse(snap, "a")
    assert a["charge_mode"] == "plan" and a["setpoint_a"] > 0.0
    assert a["rule"]["code"] == "plan_missing"


async def test_a_mode_switch_keeps_the_driver_and_acts_at_once() -> None:
    site = SolarSite(pv_w=0)
    site.add("a", charge_mode="now")
    await site.run(10)
    driver = site.loop.evses["a"].device
    site.devices["a"]["charge_mode"] = "off"
    snap = await site.run(1)
    assert site.loop.evses["a"].device is driver
    assert site.evse(snap, "a")["setpoint_a"] == 0.0


async def test_small_surplus_switches_to_one_phase_while_paused_then_back() -> None:
    site = SolarSite(
        pv_w=2500,
        pv_enable_delay_s=10,
        pv_disable_delay_s=10,
        phase_switch_min_interval_s=60,
        surplus_average_s=0,
    )
    site.add("a", charge_mode="pv", phase_relay=True)
    sim_box = None
    for _ in range(12):
        snap = await site.run(10)
        sim_box = site.world.evses["a"]
    assert sim_box is not None
    a = site.evse(snap, "a")
    assert a["phases_active"] == 1 and a["setpoint_a"] > 6.0
    assert sim_box.switches == 1 and sim_box.switched_under_load == 0
    site.pv = 9000
    snap = await site.run(1200)  # the slow average must agree before going back
    a = site.evse(snap, "a")
    assert a["phases_active"] == 3 and a["setpoint_a"] > 6.0
    assert sim_box.switches == 2 and sim_box.switched_under_load == 0
    assert [e for e in site.events.recent() if e["kind"] == "phase_switch"]


async def test_a_car_that_refuses_one_phase_is_remembered() -> None:
    site = SolarSite(pv_w=2500, pv_enable_delay_s=5, surplus_average_s=0)
    site.add("a", charge_mode="pv", phase_relay=True, car_refuses_1p=True)
    snap = await site.run(400)
    a = site.evse(snap, "a")
    assert site.loop.solar.boxes["a"].phase.refuses_1p
    assert a["phases_active"] == 3
    assert [e for e in site.events.recent() if e["kind"] == "phase_refused"]


async def test_fixed_one_phase_setting_is_kept() -> None:
    site = SolarSite(pv_w=0)
    site.add("a", charge_mode="now", phase_relay=True, phase_switching="1p")
    snap = await site.run(120)  # switched while paused, then the resume delay
    a = site.evse(snap, "a")
    assert a["phases_active"] == 1 and a["setpoint_a"] == 16.0
    assert site.world.evses["a"].switched_under_load == 0


def test_budget_rows_give_minpv_its_min_before_pv_boxes() -> None:
    """The two rows of manager/solar.py: pv+minpv within surplus + minpv mins, pv alone within
    the surplus; a higher-priority pv box cannot take a minpv box's minimum."""
    label = Reason("pv_budget", {"surplus_w": 2000})
    site = Site(
        circuits=(Circuit("main", "Grid", None, 32.0),),
        budgets=(
            Budget(label, ("pv", "minpv"), max_power_w=2000 + 4140),
            Budget(label, ("pv",), max_power_w=2000),
        ),
    )
    loads = [EvseLoad("pv", "main", priority=5), EvseLoad("minpv", "main", priority=1)]
    out = allocate(site, loads)
    assert out.setpoints["minpv"] >= 6.0
    assert out.setpoints["pv"] == 0.0  # 2 kW does not carry its 4.14 kW min
    assert out.reasons["pv"].code in ("pv_budget", "priority", "waiting_slot")


def test_surplus_average_and_battery_rules() -> None:
    m = SurplusMeter()
    for t, w in [(0, 1000.0), (10, 1000.0), (20, 4000.0)]:
        avg = m.update(t, w, 30.0)
    assert avg == pytest.approx(2500.0)  # each sample stands for the 10 s before it
    assert m.update(21, None, 30.0) is None  # no grid reading: nothing to average
    cfg = SiteSettings(battery_priority_soc=50, battery_discharge_soc=90)
    assert battery_rule(2000, 30, cfg) == 0  # charged first: its charging stays its own
    assert battery_rule(-1500, 30, cfg) == -1500  # what it gives is not surplus
    assert battery_rule(2000, 60, cfg) == 2000  # its charging may go to the car
    assert battery_rule(-1500, 95, cfg) == 0  # above the discharge charge: it may give
    assert battery_rule(2000, None, cfg) == 0  # no charge reading: battery first


def test_bad_modes_name_the_field() -> None:
    def no_driver(driver: str, kind: str, address: str, extra: dict[str, Any]) -> dict[str, Any]:
        return extra

    base = {"id": "a", "name": "a", "kind": "evse", "driver": "sim-evse"}
    with pytest.raises(Exception) as err:
        validate_device({**base, "charge_mode": "fast", "phase_switching": "2p"}, no_driver)
    fields = {e["field"] for e in err.value.errors}  # type: ignore[attr-defined]
    assert fields == {"charge_mode", "phase_switching"}
    ok = validate_device({**base, "charge_mode": "minpv"}, no_driver)
    assert ok["charge_mode"] == "minpv" and ok["phase_switching"] == "auto"
    with pytest.raises(ValueError, match="battery_discharge_soc"):
        SiteSettings(battery_priority_soc=80, battery_discharge_soc=20)


def test_stored_relay_option_is_migrated() -> None:
    old = {"id": "c", "kind": "evse", "driver": "cfos", "phase_switching": True}
    new = migrate_device(old)
    assert new["phase_relay"] is True and new["phase_switching"] == "auto"
    assert migrate_device(new) == new


@pytest.mark.parametrize(("soc", "charges"), [(30.0, False), (80.0, True)])
async def test_home_battery_first_below_its_priority_charge(soc: float, charges: bool) -> None:
    """6 kW of PV, a battery taking up to 3 kW: below battery_priority_soc (50 %) it keeps what
    it charges and the car's 4.1 kW minimum does not fit; above it, the car goes first."""
    site = SolarSite(pv_w=6000, pv_enable_delay_s=5, surplus_average_s=0)
    site.devices["battery"] = {
        "id": "battery",
        "name": "battery",
        "kind": "meter",
        "driver": "sim-meter",
        "role": "battery",
    }
    site.add("a", charge_mode="pv")
    await site.run(1)
    assert site.world.battery is not None
    site.world.battery.soc_pct = soc
    site.world.battery.capacity_wh = 1e9  # its charge stays put during the test
    snap = await site.run(60)
    a = site.evse(snap, "a")
    if charges:
        assert a["setpoint_a"] > 6.0
        assert site.world.battery.power_w < 1000  # the car took its share
    else:
        assert a["setpoint_a"] == 0.0 and a["reason"]["code"] == "pv_waiting"
        assert site.world.battery.power_w > 2900  # the battery charges first

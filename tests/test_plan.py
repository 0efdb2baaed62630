"""Charge plans in accelerated simulated time: up to a day in one-minute steps through the
control loop's rules (manager/site_rules.py), with random prices and cars that take less than
the box offers (down to 1 / 1.2 of it, what the plan's margin is for). Every plan is met by its
deadline, and a plan charges in the cheapest hours, as late as it can."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from manager.chargemode import ChargeMode
from manager.config import Settings
from manager.loads import Model
from manager.model import ChargeStatus, Circuit, EvseReading, Site
from manager.plan import SolarSlot, make_plan
from manager.prices import PriceSlot
from manager.runtime import EvseRuntime
from manager.site_rules import SiteRules
from manager.timestamps import iso

T0 = 1_796_601_600.0  # a midnight, UTC
STEP_S = 60.0
VOLT = 230.0


def box(energy_wh: float, deadline: float) -> EvseRuntime:
    st = EvseRuntime(
        {
            "id": "car",
            "name": "Car",
            "kind": "evse",
            "driver": "sim-evse",
            "max_current_a": 16.0,
            "charge_mode": "plan",
            "plan_energy_wh": energy_wh,
            "plan_time": iso(deadline),
        }
    )
    st.reading = EvseReading(status=ChargeStatus.CONNECTED, session_wh=0.0)
    st.device, st.online = object(), True  # type: ignore[assignment]  # a box that answers
    return st


def hourly(rng: random.Random, hours: int) -> tuple[PriceSlot, ...]:
    return tuple(
        PriceSlot(T0 + h * 3600, T0 + (h + 1) * 3600, round(rng.uniform(0.05, 0.45), 3))
        for h in range(hours)
    )


def simulate(rules: SiteRules, st: EvseRuntime, end: float, take: float) -> list[float]:
    """Runs the rules every minute until `end`; the car takes `take` of the box's power
    whenever the mode in force is `now`. Returns the times it charged."""
    site = Site((Circuit(id="main", name="Main", parent=None, max_current_a=32.0),))
    power = 16.0 * 3 * VOLT
    charged = []
    t = T0
    while t < end:
        rules.decide([st], Settings(), t)
        rules.apply(Model(site, [st.load()], {}, {}), Settings(), t)
        if rules.in_force["car"].mode is ChargeMode.NOW:
            wh = st.reading.session_wh + power * take * STEP_S / 3600
            st.reading = EvseReading(
                status=ChargeStatus.CHARGING, session_wh=wh, power_w=power * take
            )
            charged.append(t)
        t += STEP_S
    return charged


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    hours=st.integers(4, 24),
    fill=st.floats(0.05, 0.6),
    take=st.floats(1 / 1.2, 1.0),
)
def test_plans_are_met_by_their_deadline(seed, hours, fill, take) -> None:
    rng = random.Random(seed)
    deadline = T0 + hours * 3600
    power = 16.0 * 3 * VOLT
    energy = fill * take * power * hours  # what the car can take in the time, times `fill`
    rules = SiteRules()
    rules.set_prices(hourly(rng, 24))
    st_ = box(energy, deadline)
    simulate(rules, st_, deadline, take)
    assert st_.reading.session_wh >= energy - 1e-6, "plan missed its deadline"
    assert rules.in_force["car"].reason.code == "plan_done"


def test_a_plan_charges_in_the_cheapest_hours_as_late_as_it_can() -> None:
    """Two cheap hours (02:00 and 05:00); the car needs about one: the later cheap hour,
    started so that it ends with the hour."""
    prices = [0.30] * 8
    prices[2] = prices[5] = 0.10
    slots = tuple(PriceSlot(T0 + h * 3600, T0 + (h + 1) * 3600, p) for h, p in enumerate(prices))
    energy = 11_040.0 * 0.7  # 0.7 h at 16 A x 3 x 230 V
    rules = SiteRules()
    rules.set_prices(slots)
    st_ = box(energy, T0 + 8 * 3600)
    charged = simulate(rules, st_, T0 + 8 * 3600, 1.0)
    assert min(charged) >= T0 + 5 * 3600 - 1e-6 and max(charged) < T0 + 6 * 3600
    plan = rules.progress["car"].plan
    assert plan.end == T0 + 6 * 3600 and not plan.forecast
    assert st_.reading.session_wh >= energy


def test_without_prices_the_plan_ends_at_the_deadline() -> None:
    plan = make_plan(T0, 11_040.0, T0 + 10 * 3600, 11_040.0)
    assert plan.end == T0 + 10 * 3600
    assert plan.start == T0 + 10 * 3600 - (3600 * 1.2 + 300)


def test_with_a_forecast_the_sun_comes_first() -> None:
    """Sun from 10:00 to 13:00 carrying the box: those hours are planned as solar charging
    and the grid covers only the rest, in the cheapest hour before the deadline."""
    prices = tuple(
        PriceSlot(T0 + h * 3600, T0 + (h + 1) * 3600, 0.10 if h == 6 else 0.30) for h in range(18)
    )
    sun = [SolarSlot(T0 + 10 * 3600, T0 + 13 * 3600, 5_000.0)]
    plan = make_plan(T0, 20_000.0, T0 + 18 * 3600, 11_040.0, prices, sun, min_power_w=4_140.0)
    assert plan.forecast and plan.solar == ((T0 + 10 * 3600, T0 + 13 * 3600),)
    grid_s = (20_000.0 - 3 * 5_000.0) / 11_040.0 * 3600 * 1.2 + 300
    assert plan.slots == ((T0 + 7 * 3600 - grid_s, T0 + 7 * 3600),)
    weak = [SolarSlot(T0 + 10 * 3600, T0 + 13 * 3600, 1_000.0)]  # cannot carry the box's min
    assert make_plan(T0, 20_000.0, T0 + 18 * 3600, 11_040.0, prices, weak, 4_140.0).solar == ()

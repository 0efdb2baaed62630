"""The mode resolver (manager/mode_rules.py): schedules, then the price limit, then the plan,
then the user's limits, else the box's own mode; and the rules' input checks."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from manager.chargemode import ChargeMode
from manager.charging_limit import ChargingLimit, LimitFile
from manager.config import EvseConfig, InvalidInput
from manager.mode_rules import RANK, BoxRules, PlanProgress, UserLimits, resolve
from manager.plan import make_plan
from manager.prices import PriceSlot, parse_prices
from manager.rule_edits import check_plan
from manager.schedules import ScheduleWindow, active_window
from web.wording import word

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def at(day: int, hour: int, minute: int = 0) -> float:
    """Local time on 7 Dec 2026 (a Monday) + `day` days."""
    return datetime(2026, 12, 7 + day, hour, minute).astimezone().timestamp()


def window(days, frm, to, mode) -> ScheduleWindow:
    return ScheduleWindow.model_validate({"days": days, "from": frm, "to": to, "mode": mode})


NIGHTS = BoxRules(schedules=(window(WEEKDAYS, "22:00", "06:00", "now"),))


def text(reason, lang="en") -> str:
    return word(reason.data(), lang)


def test_weekday_nights_now_otherwise_the_box_mode() -> None:
    inside = resolve(at(0, 23), ChargeMode.PV, NIGHTS)
    assert inside.mode is ChargeMode.NOW
    assert text(inside.reason) == "schedule: now until 06:00"
    assert text(inside.reason, "de") == "Zeitplan: Sofort bis 06:00"
    assert resolve(at(1, 5, 59), ChargeMode.PV, NIGHTS).mode is ChargeMode.NOW  # Tue morning
    assert resolve(at(1, 6), ChargeMode.PV, NIGHTS).mode is ChargeMode.PV  # the edge: out
    assert resolve(at(0, 21, 59), ChargeMode.PV, NIGHTS).mode is ChargeMode.PV
    assert resolve(at(5, 23), ChargeMode.PV, NIGHTS).mode is ChargeMode.PV  # Saturday night
    assert resolve(at(5, 3), ChargeMode.PV, NIGHTS).mode is ChargeMode.NOW  # Friday's night
    assert resolve(at(6, 3), ChargeMode.PV, NIGHTS).mode is ChargeMode.PV
    assert resolve(at(0, 12), ChargeMode.PV, NIGHTS).reason is None


def test_windows_are_read_top_down_and_set_any_mode() -> None:
    rules = BoxRules(
        schedules=(
            window(["sat", "sun"], "00:00", "24:00", "off"),
            window(WEEKDAYS, "08:00", "17:00", "minpv"),
        )
    )
    assert resolve(at(5, 12), ChargeMode.NOW, rules).mode is ChargeMode.OFF
    assert resolve(at(2, 12), ChargeMode.NOW, rules).mode is ChargeMode.MINPV
    found = active_window(rules.schedules, at(6, 23, 59))
    assert found is not None and found[1] == at(7, 0)


PRICES = (
    PriceSlot(at(0, 22), at(0, 23), 0.30),
    PriceSlot(at(0, 23), at(1, 2), 0.10),
    PriceSlot(at(1, 2), at(1, 5), 0.12),
    PriceSlot(at(1, 5), at(1, 8), 0.35),
)


def test_price_at_or_below_the_limit_charges_now_until_the_cheap_run_ends() -> None:
    rules = BoxRules(price_limit=0.12)
    cheap = resolve(at(1, 0), ChargeMode.PV, rules, PRICES)
    assert cheap.mode is ChargeMode.NOW
    assert text(cheap.reason) == "cheap price window until 05:00"
    assert text(cheap.reason, "de") == "günstiges Preisfenster bis 05:00"
    assert resolve(at(0, 22, 30), ChargeMode.PV, rules, PRICES).mode is ChargeMode.PV
    assert resolve(at(1, 6), ChargeMode.OFF, rules, PRICES).mode is ChargeMode.OFF
    assert resolve(at(2, 0), ChargeMode.PV, rules, PRICES).mode is ChargeMode.PV  # no price


def test_a_schedule_comes_before_the_price_limit() -> None:
    rules = BoxRules(schedules=(window(["mon"], "23:00", "23:30", "off"),), price_limit=0.2)
    assert resolve(at(0, 23, 10), ChargeMode.NOW, rules, PRICES).mode is ChargeMode.OFF
    assert resolve(at(0, 23, 40), ChargeMode.OFF, rules, PRICES).mode is ChargeMode.NOW


def test_plan_waits_then_charges_in_the_cheapest_slots_then_stops() -> None:
    plan = make_plan(at(0, 21), 11_000.0, at(1, 7), 11_000.0, PRICES)
    # 1 h needed, 1.2 h + 5 min planned: all in the 0.10 slot (23:00-02:00), its last part
    assert plan.slots == ((at(1, 2) - (3600 * 1.2 + 300), at(1, 2)),)
    progress = PlanProgress(plan, 11_000.0)
    waiting = resolve(at(0, 22), ChargeMode.PLAN, BoxRules(), PRICES, progress)
    assert waiting.mode is ChargeMode.OFF
    assert text(waiting.reason).startswith("plan: starts at 00:43, done by 07:00 (no solar")
    charging = resolve(at(1, 1), ChargeMode.PLAN, BoxRules(), PRICES, progress)
    assert charging.mode is ChargeMode.NOW and text(charging.reason) == "plan: charging until 02:00"
    done = resolve(at(1, 1), ChargeMode.PLAN, BoxRules(), PRICES, PlanProgress(plan, 0.0))
    assert done.mode is ChargeMode.OFF and done.reason.code == "plan_done"
    late = resolve(at(1, 7), ChargeMode.PLAN, BoxRules(), PRICES, PlanProgress(plan, 10.0))
    assert late.mode is ChargeMode.NOW and late.reason.code == "plan_overdue"
    assert resolve(at(1, 1), ChargeMode.PLAN, BoxRules()).reason.code == "plan_missing"


def test_a_window_can_set_plan_mode() -> None:
    plan = make_plan(at(0, 21), 11_000.0, at(1, 7), 11_000.0, PRICES)
    rules = BoxRules(schedules=(window(["mon"], "20:00", "08:00", "plan"),))
    force = resolve(at(1, 1), ChargeMode.PV, rules, PRICES, PlanProgress(plan, 5_000.0))
    assert force.mode is ChargeMode.NOW and force.reason.cause.code == "schedule"


def test_the_lower_of_the_box_and_the_user_wins() -> None:
    user = UserLimits("Anna", ChargeMode.PV, 10.0)
    force = resolve(at(0, 23), ChargeMode.NOW, NIGHTS, user=user)
    assert force.mode is ChargeMode.PV and force.max_current_a == 10.0
    assert text(force.reason) == "user Anna allows only solar"
    assert resolve(at(0, 12), ChargeMode.OFF, BoxRules(), user=user).mode is ChargeMode.OFF
    capped = resolve(at(0, 12), ChargeMode.NOW, BoxRules(), user=UserLimits("Ben", None, 8.0))
    assert capped.mode is ChargeMode.NOW and capped.max_current_a == 8.0
    assert text(capped.reason, "de") == "Nutzer Ben erlaubt höchstens 8 A"


modes = st.sampled_from(list(ChargeMode))


@settings(max_examples=300, deadline=None)
@given(
    box=modes,
    user=st.one_of(st.none(), modes),
    cap=st.one_of(st.none(), st.floats(6, 32)),
    t=st.floats(at(0, 0), at(7, 0)),
    limit=st.one_of(st.none(), st.floats(0, 0.4)),
)
def test_resolver_properties(box, user, cap, t, limit) -> None:
    """Never `plan` out (it resolves into now, pv or off); a user never raises the mode or
    the current (a user's plan follows the box's plan); without any rule the box's own mode
    holds."""
    rules = BoxRules(NIGHTS.schedules, limit)
    plan = PlanProgress(make_plan(at(0, 0), 20_000.0, at(7, 0), 11_000.0, PRICES), 5_000.0)
    free = resolve(t, box, rules, PRICES, plan)
    limited = resolve(t, box, rules, PRICES, plan, UserLimits("u", user, cap))
    assert free.mode is not ChargeMode.PLAN and limited.mode is not ChargeMode.PLAN
    assert RANK[limited.mode] <= RANK[free.mode]
    if user is not None and user is not ChargeMode.PLAN:  # a plan charges now in its slots
        assert RANK[limited.mode] <= RANK[user]
    assert limited.max_current_a == cap
    if box is not ChargeMode.PLAN:
        assert resolve(t, box, BoxRules()).mode is box


def test_overlapping_or_empty_windows_are_refused() -> None:
    def box(*windows) -> None:
        EvseConfig.model_validate(
            {"id": "b", "name": "B", "driver": "sim-evse", "schedules": list(windows)}
        )

    night = {"days": ["mon"], "from": "22:00", "to": "06:00", "mode": "now"}
    box(night, {"days": ["tue"], "from": "06:00", "to": "08:00", "mode": "pv"})  # touching
    with pytest.raises(ValidationError, match="window 1 overlaps window 2"):
        box(night, {"days": ["tue"], "from": "05:00", "to": "07:00", "mode": "pv"})
    with pytest.raises(ValidationError, match="empty"):
        box({"days": ["mon"], "from": "10:00", "to": "10:00", "mode": "pv"})
    with pytest.raises(ValidationError):
        box({"days": [], "from": "10:00", "to": "11:00", "mode": "pv"})
    with pytest.raises(ValidationError):
        box({"days": ["mon"], "from": "10:00", "to": "11:00", "mode": "fast"})


def test_price_lists_with_gaps_or_overlaps_are_refused() -> None:
    ok = [
        {"start": "2026-12-07T01:00:00Z", "end": "2026-12-07T02:00:00Z", "price_per_kwh": 0.2},
        {"start": "2026-12-07T00:00:00Z", "end": "2026-12-07T01:00:00Z", "price_per_kwh": -0.01},
    ]
    slots = parse_prices(ok)
    assert [s.price_per_kwh for s in slots] == [-0.01, 0.2]  # in time order
    gap = [ok[1], {**ok[0], "start": "2026-12-07T01:15:00Z"}]
    with pytest.raises(InvalidInput) as exc:
        parse_prices(gap)
    assert exc.value.errors == [{"field": "1.start", "message": "gap before this slot"}]
    overlap = [ok[1], {**ok[0], "start": "2026-12-07T00:30:00Z"}]
    with pytest.raises(InvalidInput, match="overlaps"):
        parse_prices(overlap)
    with pytest.raises(InvalidInput) as exc:
        parse_prices([{"start": "x", "end": "2026-12-07T00:00:00Z", "price_per_kwh": "1"}])
    assert {e["field"] for e in exc.value.errors} == {"0.start", "0.price_per_kwh"}


def test_a_plan_time_in_the_past_is_refused_only_when_given() -> None:
    past = {"plan_time": "2020-01-01T00:00:00Z"}
    with pytest.raises(InvalidInput) as exc:
        check_plan(past)
    (error,) = exc.value.errors
    assert (error["field"], error["code"]) == ("plan_time", "in_the_past")
    check_plan(past, old=past)  # stored and sent back unchanged: the plan is over, no error
    check_plan({"plan_time": "2999-01-01T00:00:00Z"})


def test_the_stored_limit_holds_until_it_ends(tmp_path) -> None:
    clock = [1_000.0]
    file = LimitFile(tmp_path, lambda: clock[0])
    file.save(ChargingLimit(4200.0, 2_000.0, "garage"))
    assert file.load() == ChargingLimit(4200.0, 2_000.0, "garage")
    clock[0] = 2_000.0  # ended while ampshare was down: gone, file and all
    assert file.load() is None and not file.path.exists()
    file.path.write_text("{not json", encoding="utf-8")
    assert file.load() is None  # unreadable: no limit (logged), never a crash

"""Which charging mode is in force for a wallbox at a given time, and why (issue 16).

Pure: the rules are read in a fixed order and the first that applies decides:
1. the box's schedule (the first window, top down, that holds now);
2. `price_limit`: the price now is at or below it -> `now` until the cheap run ends;
3. `plan` (configured, or set by a window): charge in the planned slots, wait outside them;
4. otherwise the box's own `charge_mode`.
Then the user's limits: when the RFID user of the session has a mode or a max current, the
lower of the box's and the user's wins (as at cFos). A mode is lower when it charges less
readily: off < pv < minpv < plan < now.

The result is a mode the allocator turns into constraint rows (`plan` never comes out: it
resolves into `now`, `pv` or `off` for this moment) plus a reason code for the tile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from manager.chargemode import ChargeMode
from manager.model import Reason
from manager.plan import Plan
from manager.prices import PriceSlot, cheap_until
from manager.schedules import ScheduleWindow, active_window

#: how readily a mode charges: the lower one wins between a box and its user
RANK = {
    ChargeMode.OFF: 0,
    ChargeMode.PV: 1,
    ChargeMode.MINPV: 2,
    ChargeMode.PLAN: 3,
    ChargeMode.NOW: 4,
}


@dataclass(frozen=True, slots=True)
class BoxRules:
    """A wallbox's own rules (from its configuration)."""

    schedules: tuple[ScheduleWindow, ...] = ()
    price_limit: float | None = None


@dataclass(frozen=True, slots=True)
class UserLimits:
    """What the RFID user of the running session allows (None: no limit of theirs)."""

    name: str
    mode: ChargeMode | None = None
    max_current_a: float | None = None


@dataclass(frozen=True, slots=True)
class PlanProgress:
    """A plan and how far it is: energy still missing (Wh)."""

    plan: Plan
    missing_wh: float


@dataclass(frozen=True, slots=True)
class InForce:
    """The mode in force now; `reason` says which rule set it (None: the box's own mode);
    `max_current_a` is a user's cap on the box's current."""

    mode: ChargeMode
    reason: Reason | None = None
    max_current_a: float | None = None


def resolve(
    at: float,
    configured: ChargeMode,
    rules: BoxRules,
    prices: Sequence[PriceSlot] = (),
    plan: PlanProgress | None = None,
    user: UserLimits | None = None,
) -> InForce:
    """The mode in force at `at` (epoch s) for a box whose own mode is `configured`."""
    return _user(at, _box(at, configured, rules, prices, plan), user, plan)


def _box(
    at: float,
    configured: ChargeMode,
    rules: BoxRules,
    prices: Sequence[PriceSlot],
    plan: PlanProgress | None,
) -> InForce:
    window = active_window(rules.schedules, at)
    if window is not None:
        w, until = window
        why = Reason("schedule", {"mode": w.mode.value, "until": until})
        if w.mode is ChargeMode.PLAN:
            return _plan(at, plan, why)
        return InForce(w.mode, why)
    if rules.price_limit is not None:
        until_cheap = cheap_until(prices, at, rules.price_limit)
        if until_cheap is not None:
            return InForce(ChargeMode.NOW, Reason("cheap_price", {"until": until_cheap}))
    if configured is ChargeMode.PLAN:
        return _plan(at, plan, None)
    return InForce(configured)


def _plan(at: float, progress: PlanProgress | None, cause: Reason | None) -> InForce:
    """Plan mode at this moment: charge in a planned slot, use the sun in a solar slot, wait
    otherwise; done once the energy is in; charge now when the deadline has passed short."""
    if progress is None:
        return InForce(ChargeMode.NOW, Reason("plan_missing", cause=cause))
    plan = progress.plan
    if progress.missing_wh <= 0:
        return InForce(ChargeMode.OFF, Reason("plan_done", cause=cause))
    if at >= plan.deadline:
        return InForce(ChargeMode.NOW, Reason("plan_overdue", cause=cause))
    slot = plan.slot_at(at)
    if slot is not None:
        return InForce(ChargeMode.NOW, Reason("plan_charging", {"until": slot[1]}, cause))
    solar = plan.solar_at(at)
    if solar is not None:
        return InForce(ChargeMode.PV, Reason("plan_solar", {"until": solar[1]}, cause))
    start = min((s for s, _ in (*plan.slots, *plan.solar) if s > at), default=plan.deadline)
    params = {"start": start, "deadline": plan.deadline}
    if not plan.forecast:
        return InForce(ChargeMode.OFF, Reason("plan_waiting_no_forecast", params, cause))
    return InForce(ChargeMode.OFF, Reason("plan_waiting", params, cause))


def _user(at: float, box: InForce, user: UserLimits | None, plan: PlanProgress | None) -> InForce:
    """The lower of the box's and the user's mode, and the user's max current as a cap (a
    user in plan mode follows the box's plan)."""
    if user is None or (user.mode is None and user.max_current_a is None):
        return box
    mode, reason = box.mode, box.reason
    if user.mode is not None and RANK[user.mode] < RANK[box.mode]:
        reason = Reason("user_mode", {"user": user.name, "mode": user.mode.value}, reason)
        mode = user.mode
        if mode is ChargeMode.PLAN:
            planned = _plan(at, plan, reason)
            mode, reason = planned.mode, planned.reason
    cap = user.max_current_a
    if cap is not None and mode is not ChargeMode.OFF and reason is box.reason:
        reason = Reason("user_max", {"user": user.name, "amps": cap}, reason)
    return InForce(mode, reason, cap)

"""From the allocation to what is sent: each box's target and reason, then the ramp.

Cuts are sent at once; increases every INCREASE_EVERY_S in steps of at most RAMP_STEP_A, small
ones (the dead-band) not at all, and only once every car has followed the last cut. An unchanged
setpoint is sent again every REFRESH_S.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping

from manager.model import ChargeStatus, DeviceError, Reason
from manager.runtime import FOLLOW_S, OVERDRAW_TOLERANCE_A, EvseRuntime, resolution_of

log = logging.getLogger("ampshare.control")

#: IEC 61851: do not change the offer upwards more often than this (s)
INCREASE_EVERY_S = 5.0
#: one increase raises the offer by at most this much (A)
RAMP_STEP_A = 4.0
#: increases smaller than this are not sent (A)
DEADBAND_A = 0.5
#: a target change smaller than this is not logged (unless the reason changes)
LOG_STEP_A = 1.0
#: the setpoint is sent again this often even if unchanged (s)
REFRESH_S = 60.0

PLUGGED = (ChargeStatus.CONNECTED, ChargeStatus.CHARGING)


def unmanaged(st: EvseRuntime) -> Reason | None:
    """The reason for a box the allocator does not steer (disabled, no driver, offline)."""
    if not st.enabled:
        return Reason("disabled")
    if st.device is None:
        if st.build_error:
            return Reason("driver_failed", {"error": st.build_error})
        return Reason("driver_not_running")
    if not st.online:
        return Reason("offline", {"amps": st.commanded_a})
    return None


def decide(
    now: float,
    evses: Iterable[EvseRuntime],
    setpoints: Mapping[str, float],
    reasons: Mapping[str, Reason],
    safe_reason: Reason | None,
    capped: Mapping[str, Reason],
) -> None:
    """Set each box's target and reason from the allocation (`safe_reason`: safe mode is on;
    `capped`: boxes a billing backend's or their user's cap limits)."""
    for st in evses:
        held = unmanaged(st)
        if held is not None:
            st.target_a = st.commanded_a if held.code == "offline" else 0.0
            st.reason = held
            continue
        target = float(setpoints.get(st.id, 0.0))
        reason = reasons.get(st.id) or Reason("no_demand")
        if safe_reason is not None:
            why = {"why": safe_reason.code, **safe_reason.params}
            reason = Reason("safe_mode", why, cause=reason)
        elif st.id in capped:
            reason = capped[st.id]
        elif st.cap_a is not None and target >= st.cap_a - 1e-9:
            reason = Reason("car_takes_less", {"amps": st.cap_a})
        _track_waiting(now, st, target)
        why = _steady(reason)  # st.reason may carry a wrapper (ramping up...) added later
        if _moved(st.logged_a, target) or why != st.logged_why:
            log.info("%s: %.1f A (%s)", st.id, target, reason)
            st.logged_a, st.logged_why = target, why
        st.target_a, st.reason = target, reason


def _track_waiting(now: float, st: EvseRuntime, target: float) -> None:
    """Since when a plugged-in car has waited for current (the slot rotation's order)."""
    plugged = st.reading is not None and st.reading.status in PLUGGED
    if plugged and target == 0 and st.waiting_since is None:
        st.waiting_since = now
    if target > 0:
        st.waiting_since = None


def _moved(old: float, new: float) -> bool:
    """A change an operator wants in the log: on, off, or at least 1 A; the meter's ripple
    under a fuse limit (24.9 A, 25.0 A, ...) is not."""
    return (old > 0) != (new > 0) or abs(new - old) >= LOG_STEP_A


#: reason parameters that change from cycle to cycle (counters and measurements)
_VOLATILE = frozenset({"seconds", "surplus_w", "need_w"})


def _steady(reason: Reason | None) -> tuple[object, ...]:
    """The reason without its counters, so a countdown is logged once, not every second."""
    if reason is None:
        return ()
    params = tuple(sorted((k, v) for k, v in reason.params.items() if k not in _VOLATILE))
    return (reason.code, params, _steady(reason.cause))


def following(now: float, evses: Iterable[EvseRuntime]) -> list[EvseRuntime]:
    """Boxes whose car has not yet come down to a recent cut."""
    return [
        st
        for st in evses
        if st.online
        and now - st.decreased_at < FOLLOW_S
        and max(st.last_measured) > st.commanded_a + OVERDRAW_TOLERANCE_A
    ]


def next_setpoint(now: float, st: EvseRuntime) -> float | None:
    """Cuts at once; increases every few seconds in steps; small increases not at all."""
    target, current = st.target_a, st.commanded_a
    res = resolution_of(st.device)
    if target < current - 1e-9:
        return target
    if target > current + 1e-9:
        if now - st.increased_at < INCREASE_EVERY_S:
            return None
        if current > 0 and target - current < max(DEADBAND_A, res) - 1e-9:
            return refresh(now, st)
        step = target if current == 0 else min(target, current + RAMP_STEP_A)
        return math.floor(step / res + 1e-9) * res
    return refresh(now, st)


def refresh(now: float, st: EvseRuntime) -> float | None:
    return st.commanded_a if now - st.sent_at >= REFRESH_S else None


async def apply_all(now: float, evses: list[EvseRuntime], timeout_s: float) -> None:
    # an increase waits until every cut has been followed, or a newcomer's first amperes
    # would meet the old draw of the car that is still slowing down
    slow = following(now, evses)
    jobs = []
    for st in evses:
        if st.device is None or not st.online or not st.enabled:
            continue
        setpoint = next_setpoint(now, st)
        if setpoint is None:
            continue
        if slow and setpoint > st.commanded_a + 1e-9 and st not in slow:
            names = ", ".join(f.name for f in slow)
            st.reason = Reason("waiting_for_reduce", {"names": names}, cause=st.reason)
            continue
        jobs.append(apply(now, st, setpoint, timeout_s))
    if jobs:
        await asyncio.gather(*jobs)


async def apply(now: float, st: EvseRuntime, setpoint: float, timeout_s: float) -> None:
    assert st.device is not None
    try:
        await asyncio.wait_for(
            st.device.apply(round(setpoint, 3), st.phases_active or st.spec.phases), timeout_s
        )
    except (TimeoutError, DeviceError) as exc:
        st.error = str(exc) or "no answer while setting the current"
        if st.error != st.apply_failed:
            log.warning("%s: setting %.1f A failed: %s", st.id, setpoint, st.error)
        st.apply_failed = st.error
        return  # keep assuming the old offer
    if st.apply_failed is not None:
        log.info("%s: setting the current works again", st.id)
        st.apply_failed = None
    if setpoint > st.commanded_a:
        st.increased_at = now
    elif setpoint < st.commanded_a:
        st.decreased_at = now
    if st.commanded_a > 0 and setpoint == 0:
        st.paused_at = now
        st.charging_since = None
    if st.commanded_a == 0 and setpoint > 0:
        st.charging_since = now
        st.paused_at = None
    st.commanded_a = setpoint
    st.sent_at = now
    if setpoint < st.target_a - 1e-9:
        st.reason = Reason("ramping_up", {"amps": st.target_a}, cause=st.reason)

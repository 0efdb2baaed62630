"""The billing backends, through the wallboxes' gateways: what they are told, what they cap.

Each cycle every box's state goes to its gateway (which reports it upstream); a backend's cap
is one more cap on the box's demand, and names the reason when it is what limits the box.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from manager.model import BillingGateways, BoxObservation, ReadsTags, Reason
from manager.runtime import EvseRuntime

log = logging.getLogger("ampshare.control")


def feed(gateways: BillingGateways | None, evses: Iterable[EvseRuntime]) -> None:
    """Hand each box's state to its gateway; a gateway never stops load management."""
    if gateways is None:
        return
    for st in evses:
        seen = BoxObservation(
            online=st.online and st.device is not None,
            enabled=st.enabled,
            reading=st.reading if st.online else None,
            offered_a=st.commanded_a,
            phases=st.spec.phases,
            awaits_tag=awaits_tag(st),
        )
        try:
            gateways.observe(st.id, seen)
        except Exception:
            log.exception("%s: gateway failed to take the reading", st.id)


def awaits_tag(st: EvseRuntime) -> bool:
    """A box whose reader's card decides who charges (not a plug-and-charge `free` box)."""
    reader = isinstance(st.device, ReadsTags) and st.device.reads_tags
    return reader and st.config.get("authorization", "free") != "free"


def capped(gateways: BillingGateways | None, st: EvseRuntime, demand: float | None) -> float | None:
    """The billing backend's cap is one more cap on this box's demand."""
    cap = gateways.cap(st.id) if gateways is not None else None
    if cap is None:
        return demand
    return cap.limit_a if demand is None else min(demand, cap.limit_a)


def reasons(
    gateways: BillingGateways | None,
    evses: Iterable[EvseRuntime],
    setpoints: Mapping[str, float],
    overrides: Mapping[str, Reason],
) -> dict[str, Reason]:
    """`backend_stopped` or `backend_cap` [amps] for the boxes the backend's cap limits now."""
    out: dict[str, Reason] = {}
    if gateways is None:
        return out
    for st in evses:
        cap = gateways.cap(st.id)
        if cap is None or st.id in overrides:
            continue
        below_min = cap.limit_a < st.spec.min_current_a  # pauses the box
        if float(setpoints.get(st.id, 0.0)) < cap.limit_a - 1e-9 and not below_min:
            continue
        out[st.id] = (
            Reason("backend_stopped")
            if cap.stopped
            else Reason("backend_cap", {"amps": cap.limit_a})
        )
    return out

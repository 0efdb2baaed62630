"""Who may charge where: the answer to a tag at a wallbox, and what that means for its current.

Each wallbox has an `authorization` mode:
- `free`: plug and charge; the session goes to the tag's user or to the box's `default_user`;
- `local`: only the users table decides;
- `gateway`: the billing backend decides (devices/ocpp/gateway*), its fallback setting says
  what happens when it refuses or is away; here a known local user only brings their limits.

The answers are OCPP statuses, so the OCPP server can hand them on as they are. Pure apart from
reading the users table and the device list it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from manager.invalid import problem
from manager.model import Reason
from manager.users import UserBook, UserConfig

ACCEPTED = "Accepted"
#: statuses 1.6 knows; 2.0.1 adds NotAtThisLocation (and more we do not use)
STATUSES_16 = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one tag: an OCPP status, the user it belongs to, and how it was decided.

    `method` is one of local, backend, free, remote, fallback; `reason` a code when refused
    (unknown_tag, user_disabled, user_expired, wrong_box, no_tag).
    """

    status: str
    user: UserConfig | None = None
    method: str = "local"
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED

    def for_protocol(self, protocol: str | None) -> str:
        """The status as this OCPP version spells it (1.6 has no NotAtThisLocation)."""
        v16 = (protocol or "").removeprefix("ocpp") == "1.6"
        if v16 and self.status not in STATUSES_16:
            return "Invalid"
        return self.status


@dataclass(frozen=True, slots=True)
class UserLimits:
    """What an accepted user brings to the session: the lower of box and user wins."""

    user: str
    max_current_a: float | None
    phases: int | None
    priority: int | None


def mode_of(device: Mapping[str, Any]) -> str:
    return str(device.get("authorization") or "free")


class Authorizer:
    """Decides tags against the users table, per wallbox and its mode."""

    def __init__(
        self,
        users: UserBook,
        devices: Callable[[], Iterable[Mapping[str, Any]]],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.users = users
        self.devices = devices
        self.clock = clock or (lambda: datetime.now(UTC))

    def check_user(self, user: UserConfig | None, evse_ids: Iterable[str]) -> Decision:
        """The users table's verdict on `user` at these wallboxes (any of them will do)."""
        if user is None:
            return Decision("Invalid", None, reason="unknown_tag")
        if not user.enabled:
            return Decision("Blocked", user, reason="user_disabled")
        if user.expired(self.clock()):
            return Decision("Expired", user, reason="user_expired")
        if user.evses and not set(user.evses) & set(evse_ids):
            return Decision("NotAtThisLocation", user, reason="wrong_box")
        return Decision(ACCEPTED, user)

    def decide(self, tag: str | None, devices: list[Mapping[str, Any]]) -> Decision:
        """The answer to `tag` at these wallboxes (one OCPP charge box may hold several)."""
        modes = {mode_of(d) for d in devices}
        ids = [str(d["id"]) for d in devices]
        user = self.users.by_tag(tag) if tag else None
        if "local" in modes or "gateway" in modes:
            if not tag:
                return Decision("Invalid", None, reason="no_tag")
            return self.check_user(user, ids)
        if user is None:
            default = next((d.get("default_user") for d in devices if d.get("default_user")), None)
            user = self.users.get(str(default)) if default else None
        return Decision(ACCEPTED, user, method="free")

    def device(self, evse_id: str) -> Mapping[str, Any] | None:
        return next((d for d in self.devices() if d.get("id") == evse_id), None)

    def gate(
        self, device: Mapping[str, Any], tag: str | None
    ) -> tuple[float | None, Reason | None]:
        """The cap a plugged-in car gets from its authorization: (cap in A or None, reason).

        `local`: no current until an accepted tag is presented. `free` and `gateway` are not
        capped here (the gateway caps refused tags itself); an accepted user's limits apply.
        """
        mode = mode_of(device)
        if mode == "local":
            if not tag:
                return 0.0, Reason("auth_wait")
            verdict = self.decide(tag, [device])
            if not verdict.accepted:
                return 0.0, Reason("auth_refused", {"tag": tag, "status": verdict.status})
        limits = self.limits(device, tag)
        if limits is not None and limits.max_current_a is not None:
            return limits.max_current_a, Reason(
                "user_limit", {"user": limits.user, "amps": limits.max_current_a}
            )
        return None, None

    def limits(self, device: Mapping[str, Any], tag: str | None) -> UserLimits | None:
        """The limits of the user charging at this box now (None: no known, accepted user)."""
        verdict = self.decide(tag, [device])
        user = verdict.user
        if user is None or not (verdict.accepted or mode_of(device) == "gateway"):
            return None
        return UserLimits(user.name, user.max_current_a, user.phases, user.priority)


@dataclass(frozen=True, slots=True)
class BoxRules:
    """What authorization does to one plugged-in box this cycle.

    A user's phase count is not folded in: telling the allocator 1 phase while the car draws
    on 3 would overload the other two. It applies where a box can switch phases.
    """

    demand_a: float | None
    priority: int
    #: set when authorization alone holds the box at 0 A (shown instead of the allocator's)
    hold: Reason | None = None
    #: the user's cap, shown when it is what limits the box
    cap: Reason | None = None


def box_rules(
    auth: Authorizer | None, cfg: Mapping[str, Any], tag: str | None, demand: float | None
) -> BoxRules:
    """Fold the authorization gate and the user's limits into the box's demand cap and
    priority (the lower current of box and user wins; the user's priority replaces the box's)."""
    priority = int(cfg.get("priority", 1))
    if auth is None or demand == 0.0:
        return BoxRules(demand, priority)
    cap, reason = auth.gate(cfg, tag)
    if cap == 0.0:
        return BoxRules(0.0, priority, hold=reason)
    limits = auth.limits(cfg, tag)
    if limits is not None and limits.priority is not None:
        priority = limits.priority
    if cap is not None:
        demand = cap if demand is None else min(demand, cap)
    return BoxRules(demand, priority, cap=reason if cap is not None else None)


def limiting(
    caps: Mapping[str, Reason], setpoints: Mapping[str, float], skip: Container[str]
) -> dict[str, Reason]:
    """The users' caps (`user_limit`) that are what limits their box now; boxes in `skip`
    already have a stronger reason (held back, or the billing backend's cap)."""
    return {
        evse_id: cap
        for evse_id, cap in caps.items()
        if evse_id not in skip
        and float(setpoints.get(evse_id, 0.0)) >= float(cap.params["amps"]) - 1e-9
    }


def authorization_errors(device: Mapping[str, Any], users: UserBook) -> list[dict[str, str]]:
    """A wallbox's authorization fields that do not fit the rest of the configuration."""
    errors = []
    default = device.get("default_user")
    if default and users.get(str(default)) is None:
        errors.append(problem("default_user", "unknown_user", f"no user {default!r}", id=default))
    if device.get("authorization") == "gateway" and not device.get("gateway_url"):
        errors.append(problem("authorization", "needs_gateway_url", "needs a gateway URL"))
    return errors

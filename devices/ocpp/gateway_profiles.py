"""Charging profiles the backend installs on a gateway, and the limit they give.

Both OCPP versions are read into one plain form, so the rules are written once (OCPP 1.6
section 3.13, 2.0.1 K): per purpose the valid profile with the highest stack level wins; a
TxProfile for the running transaction overrides the TxDefaultProfile; the charge point's max
profile caps both. Limits in W are turned into A per phase with the nominal voltage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

VOLTAGE_V = 230.0
MAX_PURPOSES = ("ChargePointMaxProfile", "ChargingStationMaxProfile")
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"


def parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def iso(ts: float) -> str:
    """UTC with milliseconds: two meter values a second apart never share a timestamp."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Profile:
    id: int
    stack: int
    purpose: str
    kind: str  # Absolute | Relative | Recurring
    unit: str  # A | W
    periods: tuple[tuple[float, float, int | None], ...]  # start s, limit, phases
    start: float | None = None
    duration: float | None = None
    recurrency: str | None = None  # Daily | Weekly
    valid_from: float | None = None
    valid_to: float | None = None
    tx: Any = None
    connector: int = 0

    @property
    def is_max(self) -> bool:
        return self.purpose in MAX_PURPOSES

    def base(self, t: float, tx_start: float | None) -> float | None:
        """When this profile's schedule started, as seen at time t."""
        if self.kind == "Relative":
            return tx_start if tx_start is not None else t
        start = self.start if self.start is not None else t
        if self.kind == "Recurring":
            span = 7 * 86400.0 if self.recurrency == "Weekly" else 86400.0
            if t >= start:
                start += ((t - start) // span) * span
        return start

    def limit_at(self, t: float, tx_start: float | None, phases: int) -> float | None:
        """This profile's limit in A at time t; None when it does not apply then."""
        if self.valid_from is not None and t < self.valid_from:
            return None
        if self.valid_to is not None and t >= self.valid_to:
            return None
        base = self.base(t, tx_start)
        if base is None or t < base:
            return None
        offset = t - base
        if self.duration is not None and offset >= self.duration:
            return None
        found = None
        for start, limit, n in self.periods:
            if start <= offset:
                found = (limit, n)
        if found is None:
            return None
        limit, n = found
        if self.unit == "W":
            return limit / (VOLTAGE_V * (n or phases))
        return limit

    def boundaries(self, t0: float, t1: float, tx_start: float | None) -> list[float]:
        base = self.base(t0, tx_start)
        if base is None:
            return []
        out = [base + s for s, _, _ in self.periods]
        if self.duration is not None:
            out.append(base + self.duration)
        out += [x for x in (self.valid_from, self.valid_to) if x is not None]
        return [x for x in out if t0 < x < t1]


def parse_profile(version: str, connector: int, p: dict[str, Any]) -> Profile:
    """A profile as the backend sent it, in either version (1.6 `chargingProfileId` and one
    schedule; 2.0.1 `id` and a list of schedules, the first of which counts)."""
    v201 = version == "2.0.1"
    sched = p["chargingSchedule"][0] if v201 else p["chargingSchedule"]
    return Profile(
        id=int(p["id"] if v201 else p["chargingProfileId"]),
        stack=int(p["stackLevel"]),
        purpose=str(p["chargingProfilePurpose"]),
        kind=str(p["chargingProfileKind"]),
        unit="W" if sched.get("chargingRateUnit") == "W" else "A",
        periods=tuple(
            (float(x["startPeriod"]), float(x["limit"]), x.get("numberPhases"))
            for x in sched["chargingSchedulePeriod"]
        ),
        start=parse_time(sched.get("startSchedule")),
        duration=float(sched["duration"]) if sched.get("duration") is not None else None,
        recurrency=p.get("recurrencyKind"),
        valid_from=parse_time(p.get("validFrom")),
        valid_to=parse_time(p.get("validTo")),
        tx=p.get("transactionId"),
        connector=connector,
    )


def _top(profiles: list[Profile], t: float, tx_start: float | None, phases: int) -> float | None:
    """Limit of the highest stack level that applies at t."""
    for prof in sorted(profiles, key=lambda p: -p.stack):
        limit = prof.limit_at(t, tx_start, phases)
        if limit is not None:
            return limit
    return None


def limit_at(
    profiles: list[Profile], t: float, tx: Any, tx_start: float | None, phases: int
) -> float | None:
    """The composite limit in A at time t; None = the backend sets no limit."""
    cp_max = _top([p for p in profiles if p.is_max], t, tx_start, phases)
    tx_limit = None
    if tx is not None:
        tx_limit = _top(
            # a TxProfile without an id came with the remote start of this transaction
            [p for p in profiles if p.purpose == TX and p.tx in (tx, None)],
            t,
            tx_start,
            phases,
        )
    if tx_limit is None:
        tx_limit = _top([p for p in profiles if p.purpose == TX_DEFAULT], t, tx_start, phases)
    values = [v for v in (cp_max, tx_limit) if v is not None]
    return max(0.0, min(values)) if values else None


def composite(
    profiles: list[Profile],
    t0: float,
    duration: float,
    tx: Any,
    tx_start: float | None,
    phases: int,
    fallback_a: float,
) -> list[dict[str, Any]]:
    """GetCompositeSchedule periods (A) from t0 for `duration` s; no limit = `fallback_a`."""
    t1 = t0 + duration
    points = sorted({t0, *(b for p in profiles for b in p.boundaries(t0, t1, tx_start))})
    periods: list[dict[str, Any]] = []
    for t in points:
        limit = limit_at(profiles, t, tx, tx_start, phases)
        value = round(fallback_a if limit is None else limit, 1)
        if periods and periods[-1]["limit"] == value:
            continue
        periods.append({"startPeriod": int(t - t0), "limit": value})
    return periods


def matches_clear(p: Profile, criteria: dict[str, Any]) -> bool:
    """ClearChargingProfile: every given field must match; none given clears all."""
    checks = (
        ("id", p.id),
        ("connector", p.connector),
        ("purpose", p.purpose),
        ("stack", p.stack),
    )
    return all(criteria.get(k) is None or criteria[k] == v for k, v in checks)


class ProfileStore:
    """The profiles the backend installed, kept in its BackendConfig (raw, as it sent them)."""

    def __init__(self, config: Any, version: str) -> None:
        self.config = config
        self.version = version
        self.profiles = [self._parse(p) for p in config.profiles]

    @staticmethod
    def _parse(stored: dict[str, Any]) -> Profile:
        version = "2.0.1" if stored.get("version") == "2.0.1" else "1.6"
        return parse_profile(version, int(stored["connector"]), stored["profile"])

    def install(self, connector: int, raw: dict[str, Any], *, has_tx: bool) -> str:
        """SetChargingProfile: replaces one with the same id, or stack level and purpose."""
        stored = {"version": self.version, "connector": connector, "profile": raw}
        try:
            prof = self._parse(stored)
        except (KeyError, ValueError, TypeError, IndexError):
            return "Rejected"
        if (prof.is_max and connector != 0) or (prof.purpose == TX and not has_tx):
            return "Rejected"
        keep = [
            (s, p)
            for s, p in zip(self.config.profiles, self.profiles, strict=True)
            if p.id != prof.id and not (p.stack == prof.stack and p.purpose == prof.purpose)
        ]
        self._keep([*keep, (stored, prof)])
        return "Accepted"

    def clear(self, criteria: dict[str, Any]) -> str:
        pairs = list(zip(self.config.profiles, self.profiles, strict=True))
        keep = [(s, p) for s, p in pairs if not matches_clear(p, criteria)]
        if len(keep) == len(pairs):
            return "Unknown"
        self._keep(keep)
        return "Accepted"

    def _keep(self, pairs: list[tuple[dict[str, Any], Profile]]) -> None:
        self.config.profiles = [s for s, _ in pairs]
        self.profiles = [p for _, p in pairs]
        self.config.save()

"""An external limit on charging power (grid operator, energy management system).

`PUT /api/limits/charging` caps the summed power of all wallboxes, or of those in one circuit,
until a time. The allocator holds it as one constraint row (a `Budget`, built by
manager/allocation/external.py). It is kept on disk (atomically) so a restart does not lift it
early; once its time has passed it is gone, so a sender that stops renewing it lifts it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manager.config import InvalidInput
from manager.files import atomic_write
from manager.timestamps import iso, parse_time

log = logging.getLogger("ampshare.limits")

LIMIT_FILE = "charging_limit.json"
#: a limit lasts at most this long (s): a sender is expected to renew it
MAX_DURATION_S = 366 * 86400
MAX_POWER_W = 10_000_000.0


@dataclass(frozen=True, slots=True)
class ChargingLimit:
    max_power_w: float
    until: float  # epoch s
    circuit: str | None = None  # None: all wallboxes

    def active(self, at: float) -> bool:
        return at < self.until

    def data(self) -> dict[str, Any]:
        return {"max_power_w": self.max_power_w, "until": iso(self.until), "circuit": self.circuit}


def parse_limit(data: object, now: float, circuits: Collection[str]) -> ChargingLimit:
    """The limit from `{"max_power_w", "until" | "duration_s", "circuit"?}`; InvalidInput
    naming every mistake."""
    if not isinstance(data, dict):
        raise InvalidInput.one("body", "expected a JSON object")
    errors = [
        {"field": k, "message": "unknown field"}
        for k in sorted(set(data) - {"max_power_w", "until", "duration_s", "circuit"})
    ]
    power = _power(data.get("max_power_w"), errors)
    until = _until(data, now, errors)
    circuit = data.get("circuit")
    if circuit is not None and (not isinstance(circuit, str) or circuit not in circuits):
        errors.append({"field": "circuit", "message": f"unknown circuit {circuit!r}"})
    if errors or power is None or until is None:
        raise InvalidInput(errors)
    return ChargingLimit(power, until, circuit)


def _power(value: object, errors: list[dict[str, str]]) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        errors.append({"field": "max_power_w", "message": "expected a number of watts"})
        return None
    if value < 0:
        errors.append({"field": "max_power_w", "message": "must not be negative"})
        return None
    if value > MAX_POWER_W:
        errors.append({"field": "max_power_w", "message": f"at most {MAX_POWER_W:g} W"})
        return None
    return float(value)


def _until(data: dict[str, Any], now: float, errors: list[dict[str, str]]) -> float | None:
    has_until, has_duration = "until" in data, "duration_s" in data
    if has_until == has_duration:
        errors.append({"field": "until", "message": "give either until or duration_s"})
        return None
    if has_duration:
        d = data["duration_s"]
        if not isinstance(d, int | float) or isinstance(d, bool) or not 0 < d <= MAX_DURATION_S:
            errors.append(
                {"field": "duration_s", "message": f"expected 1 to {MAX_DURATION_S} seconds"}
            )
            return None
        return now + float(d)
    try:
        until = parse_time(data["until"])
    except ValueError as exc:
        errors.append({"field": "until", "message": str(exc)})
        return None
    if until <= now:
        errors.append({"field": "until", "message": "lies in the past"})
        return None
    if until - now > MAX_DURATION_S:
        errors.append({"field": "until", "message": "at most a year ahead"})
        return None
    return until


class LimitFile:
    """The active limit on disk; a missing, unreadable or expired file means no limit."""

    def __init__(self, data_dir: Path, clock: Callable[[], float]) -> None:
        self.path = Path(data_dir) / LIMIT_FILE
        self.clock = clock

    def load(self) -> ChargingLimit | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            limit = ChargingLimit(
                float(raw["max_power_w"]), parse_time(raw["until"]), raw.get("circuit")
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return None
        if not limit.active(self.clock()):
            log.info("the stored charging limit expired while ampshare was down")
            self.save(None)
            return None
        log.info(
            "charging limit %.0f W until %s kept across the restart",
            limit.max_power_w,
            iso(limit.until),
        )
        return limit

    def save(self, limit: ChargingLimit | None) -> None:
        if limit is None:
            self.path.unlink(missing_ok=True)
            return
        atomic_write(self.path, json.dumps(limit.data()).encode("utf-8"), 0o600)

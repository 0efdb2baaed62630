"""Energy prices the user's own integration hands in (`PUT /api/prices`); ampshare never fetches
prices itself. A price list is a run of slots without gaps or overlaps."""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manager.config import InvalidInput
from manager.files import atomic_write
from manager.timestamps import iso, parse_time

log = logging.getLogger("ampshare.rules")

PRICES_FILE = "prices.json"
#: at most this many slots (15-minute prices for three weeks)
MAX_SLOTS = 2016


@dataclass(frozen=True, slots=True)
class PriceSlot:
    start: float  # epoch s
    end: float
    price_per_kwh: float

    def data(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "price_per_kwh": self.price_per_kwh,
        }


def parse_prices(data: object) -> tuple[PriceSlot, ...]:
    """The slots in time order; InvalidInput naming every bad slot (`3.end`), a gap or an
    overlap (`3.start`: where the next slot should begin)."""
    if not isinstance(data, list):
        raise InvalidInput.one("body", "expected a list of {start, end, price_per_kwh}")
    if len(data) > MAX_SLOTS:
        raise InvalidInput.one("body", f"at most {MAX_SLOTS} slots")
    errors: list[dict[str, str]] = []
    slots = [s for i, item in enumerate(data) if (s := _slot(i, item, errors)) is not None]
    if errors:
        raise InvalidInput(errors)
    order = sorted(range(len(slots)), key=lambda i: slots[i].start)
    for before, after in itertools.pairwise(order):
        gap = slots[after].start - slots[before].end
        if gap > 0:
            errors.append({"field": f"{after}.start", "message": "gap before this slot"})
        elif gap < 0:
            errors.append({"field": f"{after}.start", "message": "overlaps the slot before"})
    if errors:
        raise InvalidInput(errors)
    return tuple(slots[i] for i in order)


def _slot(i: int, item: object, errors: list[dict[str, str]]) -> PriceSlot | None:
    if not isinstance(item, dict):
        errors.append({"field": str(i), "message": "expected {start, end, price_per_kwh}"})
        return None
    unknown = set(item) - {"start", "end", "price_per_kwh"}
    errors += [{"field": f"{i}.{k}", "message": "unknown field"} for k in sorted(unknown)]
    times: dict[str, float] = {}
    for key in ("start", "end"):
        try:
            times[key] = parse_time(item.get(key))
        except ValueError as exc:
            errors.append({"field": f"{i}.{key}", "message": str(exc)})
    price = item.get("price_per_kwh")
    ok_price = isinstance(price, int | float) and not isinstance(price, bool)
    if not ok_price or not math.isfinite(float(price)) or abs(float(price)) > 1000:  # type: ignore[arg-type]
        errors.append({"field": f"{i}.price_per_kwh", "message": "expected a number"})
        return None
    if len(times) < 2:
        return None
    if times["end"] <= times["start"]:
        errors.append({"field": f"{i}.end", "message": "must be after start"})
        return None
    return PriceSlot(times["start"], times["end"], float(price))  # type: ignore[arg-type]


def price_at(slots: Sequence[PriceSlot], at: float) -> PriceSlot | None:
    for s in slots:
        if s.start <= at < s.end:
            return s
    return None


def cheap_until(slots: Sequence[PriceSlot], at: float, limit: float) -> float | None:
    """While the price stays at or below `limit` from `at`: until when (None: not cheap now)."""
    now = price_at(slots, at)
    if now is None or now.price_per_kwh > limit:
        return None
    end = now.end
    for s in slots:
        if s.start == end and s.price_per_kwh <= limit:
            end = s.end
    return end


class PriceFile:
    """The last price list on disk, so plans made after a restart see it; an unreadable file
    means no prices (the integration sends them again)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / PRICES_FILE

    def load(self) -> tuple[PriceSlot, ...]:
        try:
            return parse_prices(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return ()
        except (OSError, ValueError) as exc:  # InvalidInput is a ValueError
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return ()

    def save(self, slots: Sequence[PriceSlot]) -> None:
        atomic_write(self.path, json.dumps([s.data() for s in slots]).encode("utf-8"))

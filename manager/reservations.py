"""Reservations made from ampshare: a reserved wallbox is kept free until its user comes.

The allocator sees a reserved box with demand 0 and the reason code `reserved`; the hold ends
when the reservation expires, is cancelled, or its own tag starts charging there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from manager.model import Reason


@dataclass(frozen=True)
class Reservation:
    device: str
    reservation_id: int
    id_tag: str
    until: float  # epoch seconds


class Reservations:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._held: dict[str, Reservation] = {}

    def add(self, device: str, reservation_id: int, id_tag: str, until: float) -> None:
        self._held[device] = Reservation(device, reservation_id, id_tag, until)

    def cancel(self, reservation_id: int) -> bool:
        for device, held in list(self._held.items()):
            if held.reservation_id == reservation_id:
                del self._held[device]
                return True
        return False

    def holding(self, device: str, user: str | None) -> Reason | None:
        """Why `device` is kept free now (None: it is not), given whose session runs there."""
        held = self._held.get(device)
        if held is None:
            return None
        if self.clock() >= held.until or (user is not None and user == held.id_tag):
            del self._held[device]  # expired, or its user arrived
            return None
        return Reason(
            "reserved",
            {"reservation_id": held.reservation_id, "until": held.until, "tag": held.id_tag},
        )


def reserved_words(reason: Reason) -> str:
    """Interim English for the control loop's reason strings (see manager.reason_words)."""
    until = datetime.fromtimestamp(float(reason.params["until"])).strftime("%H:%M")
    return f"reserved until {until} (reservation {reason.params['reservation_id']})"

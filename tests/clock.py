"""A clock the test moves by hand: `clock.t += 1.0`; pass it where the code takes `clock`."""

from __future__ import annotations


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

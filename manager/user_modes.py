"""The charging user's mode for the rules (issue 16): when the RFID user of a box's session has
a `charge_mode`, the lower of the box's and the user's wins (manager/mode_rules.py).

The user's max current is not handed on here: the users feature already caps the box's demand
with it (`user_limit`, manager/authorize.py), the lower current winning the same way.
"""

from __future__ import annotations

from manager.authorize import Authorizer, mode_of
from manager.chargemode import ChargeMode
from manager.mode_rules import UserLimits
from manager.runtime import EvseRuntime
from manager.site_rules import UserLookup


def user_modes(auth: Authorizer) -> UserLookup:
    """Who charges at a box and the mode they allow (None: no known user, or no mode)."""

    def lookup(st: EvseRuntime) -> UserLimits | None:
        tag = st.reading.user if st.reading is not None else None
        if not tag:
            return None
        verdict = auth.decide(tag, [st.config])
        user = verdict.user
        if user is None or user.charge_mode is None:
            return None
        if not (verdict.accepted or mode_of(st.config) == "gateway"):
            return None
        return UserLimits(user.name, ChargeMode(user.charge_mode))

    return lookup

"""Who decides whether a box charges: default-deny, the fallbacks, refused transactions.

Part of every connection (a mixin of OcppConnection). ampshare's rule: nothing charges without
its permission. A box gets a 0 A default profile at once; a box that refuses it gets a
ChargePointMaxProfile; a configured box that refuses both is not under control, so its
transactions are refused, a running one is stopped and the box is set Inoperative. An
unconfigured box never gets a transaction accepted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from devices.ocpp.errors import CallTimeout, NotConnected, OcppCallError
from devices.ocpp.state import DENY_PROFILE_ID, MAX_PROFILE_ID

if TYPE_CHECKING:
    from devices.ocpp.connection import Host
    from devices.ocpp.state import ChargePointRecord

log = logging.getLogger("devices.ocpp.connection")


class Authority:
    """Default-deny and the refusal of transactions; needs the connection's requests."""

    host: Host
    record: ChargePointRecord
    id: str
    ready: bool
    deny_status: str | None
    _refused: set[tuple[str, str]]
    _stop_next: int | str | None

    def event(self, kind: str, message: str) -> None:
        raise NotImplementedError

    def spawn(self, coro: Any) -> Any:
        raise NotImplementedError

    def stack_level(self) -> int:
        raise NotImplementedError

    async def set_limit(self, *args: Any, **kwargs: Any) -> tuple[str, str | None]:
        raise NotImplementedError

    # ------------------------------------------------------------------ control of the box

    async def take_control(self) -> None:
        """Default-deny, then the current setpoints; from then on setpoints go out directly."""
        released = self.host.is_released(self.id)
        if not released:
            await self.install_deny()
        self.ready = True
        if not released:
            await self.host.resend_setpoints(self)

    async def install_deny(self) -> str:
        """Default-deny: 0 A on connector/EVSE 0, so nothing charges unasked.

        TxDefaultProfile first; a box that refuses it gets a ChargePointMaxProfile instead (and
        from then on its limits go there). A known box that refuses both is not under control:
        its transactions are refused, a running one is stopped and it is set Inoperative.
        """
        style = self.host.profile_style(self.id)
        status, text = "NotTried", ""
        if not style.max_profile:
            status, text = await self._deny_with("TxDefaultProfile", DENY_PROFILE_ID)
        if status not in ("Accepted", "Timeout"):
            fallback, fallback_text = await self._deny_with("ChargePointMaxProfile", MAX_PROFILE_ID)
            if fallback == "Accepted":
                log.info("%s: takes ChargePointMaxProfile only: limits go there", self.id)
                self.record.max_profile = True
            text = text or fallback_text
            if fallback in ("Accepted", "Timeout") or status == "NotTried":
                status = fallback
        elif status == "Accepted":
            self.record.max_profile = False
        self.deny_status = status
        if status == "Accepted":
            await self._regain_control()
            return status
        log.warning("%s: %s", self.id, text)
        self.event("profile_rejected", text)
        if status != "Timeout" and self.host.is_known(self.id):
            await self._lose_control(text)
        return status

    async def _deny_with(self, purpose: str, profile_id: int) -> tuple[str, str]:
        style = self.host.profile_style(self.id)
        unit = "W" if style.watts or self.record.caps.watts_only else "A"
        try:
            status, reason = await self.set_limit(
                0,
                0.0,
                unit,
                None,
                profile_id=profile_id,
                purpose=purpose,
                stack_level=self.stack_level(),
                relative=style.relative and purpose != "ChargePointMaxProfile",
            )
        except CallTimeout as exc:
            return "Timeout", f"default-deny profile not installed: {exc}"
        except OcppCallError as exc:
            status, reason = exc.code, exc.description
        text = f"default-deny profile rejected: box answered {status}"
        return status, text + (f" ({reason})" if reason else "")

    async def _lose_control(self, why: str) -> None:
        rec = self.record
        if rec.uncontrolled is None:
            self.event(
                "not_under_control",
                f"{self.id}: not under control ({why}); its transactions are refused",
            )
        rec.uncontrolled = why
        for _, state in rec.open_transactions():
            await self.stop_remotely(state.transaction_id)
        if await self.set_available(False) in ("Accepted", "Scheduled"):
            rec.made_inoperative = True

    async def _regain_control(self) -> None:
        rec = self.record
        if rec.uncontrolled is None and not rec.made_inoperative:
            return
        if rec.uncontrolled is not None:
            log.info("%s: accepts ampshare's profiles again", self.id)
            self.event("under_control", f"{self.id}: accepts charging profiles again")
        rec.uncontrolled = None
        if rec.made_inoperative and await self.set_available(True) in ("Accepted", "Scheduled"):
            rec.made_inoperative = False

    async def stop_remotely(self, transaction_id: int | str | None) -> str | None:
        """RemoteStop (1.6) / RequestStop (2.0.1) of a transaction ampshare does not allow."""
        if transaction_id is None:
            return None
        try:
            status = await self._stop_request(transaction_id)
        except (CallTimeout, OcppCallError, NotConnected) as exc:
            log.warning("%s: stopping transaction %s failed: %s", self.id, transaction_id, exc)
            return None
        log.info("%s: asked to stop transaction %s: %s", self.id, transaction_id, status)
        return status

    async def set_available(self, operative: bool) -> str | None:
        try:
            return str(await self.change_availability(0, operative))
        except (CallTimeout, OcppCallError, NotConnected) as exc:
            log.warning("%s: ChangeAvailability failed: %s", self.id, exc)
            return None

    async def _stop_request(self, transaction_id: int | str) -> str:
        raise NotImplementedError

    async def change_availability(self, connector: int, operative: bool) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ who may charge

    def stop_after_reply(self, transaction_id: int | str) -> None:
        """A refused transaction of a box whose default-deny does not hold is stopped remotely,
        once the refusal has gone out (see reply_sent)."""
        if self.deny_status != "Accepted" or self.record.uncontrolled is not None:
            self._stop_next = transaction_id

    def reply_sent(self) -> None:
        tx, self._stop_next = self._stop_next, None
        if tx is not None:
            self.spawn(self.stop_remotely(tx))

    def configured(self) -> bool:
        """Set up as a device: managed by ampshare, or given back to its own control."""
        return self.host.is_known(self.id) or self.host.is_released(self.id)

    def refusal(self) -> str | None:
        """Why transactions of this box are refused (None: they may start)."""
        if not self.configured():
            return "not configured as an active device"
        if self.record.uncontrolled is not None:
            return "not under control"
        return None

    def refuse(self, what: str, why: str) -> None:
        """Note a refused Authorize or transaction: one event per connection and reason."""
        if (what, why) in self._refused:
            return
        self._refused.add((what, why))
        log.warning("%s: %s refused: box %s", self.id, what, why)
        self.event("transaction_refused", f"{self.id}: {what} refused: box {why}")

"""The `ocpp` EVSE driver: one connector of a charge point connected to the OCPP server.

Reading never polls: the box's last StatusNotification and MeterValues are in memory. A
setpoint replaces ampshare's own charging profile of that connector (same id), and is sent only
on a real change, after a reconnect, or as a periodic refresh.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import Field

from devices.driver import DeviceContext, Driver, DriverOptions
from devices.ocpp.connection import CallTimeout, NotConnected, OcppCallError, ProfileStyle
from devices.ocpp.state import (
    DEFAULT_PROFILE_BASE,
    DENY_PROFILE_ID,
    MAX_PROFILE_ID,
    TX_PROFILE_BASE,
    ConnectorState,
)
from manager.model import ChargeStatus, DeviceError, DeviceSpec, EvseReading, Reason, Triple

log = logging.getLogger(__name__)

#: a setpoint that did not change is sent again after this long (s)
REFRESH_S = 300.0
#: the limit of a released connector whose box keeps the box-wide default-deny for others (A)
RELEASE_A = 80.0

#: the detail of a box that refuses charging profiles (worded at the web edge)
NOT_UNDER_CONTROL = Reason("not_under_control")

_STATUS = {
    "Available": ChargeStatus.NO_CAR,
    "Reserved": ChargeStatus.NO_CAR,
    "Unavailable": ChargeStatus.NO_CAR,
    "Preparing": ChargeStatus.CONNECTED,
    "SuspendedEV": ChargeStatus.CONNECTED,
    "SuspendedEVSE": ChargeStatus.CONNECTED,
    "Finishing": ChargeStatus.CONNECTED,
    "Occupied": ChargeStatus.CONNECTED,
    "Charging": ChargeStatus.CHARGING,
    "Faulted": ChargeStatus.ERROR,
}


def _status(state: ConnectorState) -> ChargeStatus:
    status = _STATUS.get(state.status or "", ChargeStatus.NO_CAR)
    if state.charging_state == "Charging":
        status = ChargeStatus.CHARGING
    elif state.charging_state in ("EVConnected", "SuspendedEV", "SuspendedEVSE"):
        status = ChargeStatus.CONNECTED
    if state.error_code and state.status == "Faulted":
        status = ChargeStatus.ERROR
    return status


def _currents(state: ConnectorState) -> Triple:
    if any(c is not None for c in state.current_a):
        return tuple(round(c or 0.0, 2) for c in state.current_a)  # type: ignore[return-value]
    if state.current_total_a is not None:  # phases unknown: count it on every phase
        c = round(state.current_total_a, 2)
        return (c, c, c)
    return (0.0, 0.0, 0.0)


class OcppEvseOptions(DriverOptions):
    connector_id: int = Field(1, ge=1, le=99, description="Connector (1.6) or EVSE id (2.0.1)")
    password: str | None = Field(
        None,
        description="Own Basic Auth password of this box (write-only); empty: server password",
        json_schema_extra={"writeOnly": True},
    )
    stack_level: int | None = Field(
        None, ge=0, le=99, description="Stack level of ampshare's profiles; empty: box's highest"
    )
    relative_profiles: bool = Field(False, description="Send Relative instead of Absolute profiles")
    tx_profile: bool = Field(
        False,
        description="Limit a running transaction with a TxProfile (boxes that apply "
        "TxDefaultProfile only to the next session)",
    )
    power_unit: bool = Field(False, description="Send limits in W instead of A")
    max_profile: bool = Field(
        False,
        description="Limit with ChargePointMaxProfile on connector 0 (boxes without "
        "TxDefaultProfile); used automatically when a box refuses TxDefaultProfile",
    )
    voltage_v: float = Field(230.0, gt=0, le=400, description="Phase voltage for the W unit")


class OcppEvse:
    resolution_a = 0.1
    #: sessions come from the box's transactions (with the RFID tag), not from the control loop
    records_sessions = True

    def __init__(self, spec: DeviceSpec, opts: OcppEvseOptions, server: Any) -> None:
        if not spec.address:
            raise DeviceError("address: the ChargeBox ID is required")
        self.id = spec.id
        self.cb_id = spec.address
        self.connector = opts.connector_id
        self.opts = opts
        self.password = opts.password or None
        self.style = ProfileStyle(
            stack_level=opts.stack_level,
            relative=opts.relative_profiles,
            watts=opts.power_unit,
            max_profile=opts.max_profile,
            voltage_v=opts.voltage_v,
        )
        self.server = server
        self._sent: tuple[Any, ...] | None = None
        self._sent_at = 0.0
        self._detail: Reason | None = None
        self._rejected: str | None = None
        self._want: tuple[float, int] | None = None
        server.attach(self.cb_id, self.connector, self)

    @property
    def switching(self) -> bool:
        """Switches between 1 and 3 phases by the profile's numberPhases: the box said so
        (ConnectorSwitch3to1PhaseSupported in 1.6, Phases3to1 in 2.0.1)."""
        rec = self.server.record(self.cb_id)
        return bool(rec is not None and rec.caps.phase_switching)

    @property
    def active_phases(self) -> int | None:
        """The phase count last sent (None before the first setpoint)."""
        return self._want[1] if self._want is not None else None

    # ------------------------------------------------------------------ reading

    def _state(self) -> ConnectorState:
        rec = self.server.record(self.cb_id)
        if rec is None or not rec.connected:
            raise DeviceError("charge point not connected")
        state = rec.connectors.get(self.connector) or ConnectorState()
        # a one-connector box may report its meter on connector 0
        box = rec.connectors.get(0)
        if box is not None and state.meter_at is None and box.meter_at is not None:
            merged = ConnectorState(**{**vars(state)})
            for name in ("current_a", "current_total_a", "voltage_v", "power_w", "energy_wh"):
                setattr(merged, name, getattr(box, name))
            return merged
        return state

    async def read(self) -> EvseReading:
        state = self._state()
        session = 0.0
        if state.meter_start_wh is not None and state.energy_wh is not None:
            session = max(0.0, state.energy_wh - state.meter_start_wh)
        return EvseReading(
            status=_status(state),
            current_a=_currents(state),
            voltage_v=(state.voltage_v[0], state.voltage_v[1], state.voltage_v[2]),
            power_w=round(state.power_w or 0.0, 1),
            session_wh=round(session, 1),
            energy_wh=state.energy_wh,
            user=state.id_tag,
            detail=self._detail_of(state),
        )

    def _detail_of(self, state: ConnectorState) -> Reason | None:
        rec = self.server.record(self.cb_id)
        if rec is not None and rec.uncontrolled is not None:
            return NOT_UNDER_CONTROL
        if self._detail is None and state.error_code:
            info = {"info": state.info} if state.info else {}
            return Reason("box_reports", {"code": state.error_code, **info})
        return self._detail

    # ------------------------------------------------------------------ writing

    async def apply(self, setpoint_a: float, phases: int) -> None:
        self._want = (setpoint_a, phases)
        conn = self.server.connection(self.cb_id)
        if conn is None:
            raise DeviceError("charge point not connected")
        if not conn.ready:
            return  # the set-up right after connecting sends it, after the default-deny
        await self._send(conn, setpoint_a, phases)

    async def resend(self, conn: Any) -> None:
        """After a (re)connect: the last setpoint at once, without waiting for the next cycle."""
        if self._want is None:
            return
        self._sent = None
        try:
            await self._send(conn, *self._want)
        except DeviceError as exc:
            log.warning("%s: setpoint after connecting not sent: %s", self.cb_id, exc)

    async def _send(self, conn: Any, setpoint_a: float, phases: int) -> None:
        rec = conn.record
        if rec.released or conn.deny_status is None:  # switched on again: box-wide deny first
            rec.released = False
            await conn.install_deny()
        limit_a = max(0.0, round(float(setpoint_a), 1))
        watts = self.style.watts or rec.caps.watts_only
        unit = "W" if watts else "A"
        limit = round(limit_a * self.style.voltage_v * phases, 1) if watts else limit_a
        state = rec.connectors.get(self.connector)
        tx = state.transaction_id if state is not None else None
        connector, purpose, pid, limit = self._target(rec, limit, tx)
        use_tx = purpose == "TxProfile"
        key = (id(conn), purpose, tx if use_tx else None, unit, limit, phases)
        if key == self._sent and time.monotonic() - self._sent_at < REFRESH_S:
            return
        try:
            status, reason = await conn.set_limit(
                connector,
                limit,
                unit,
                phases,
                profile_id=pid,
                purpose=purpose,
                stack_level=conn.stack_level(),
                relative=self.style.relative and purpose != "ChargePointMaxProfile",
                transaction_id=tx if use_tx else None,
            )
        except CallTimeout as exc:
            raise DeviceError(f"charge point did not answer SetChargingProfile ({exc})") from None
        except NotConnected:
            raise DeviceError("charge point not connected") from None
        except OcppCallError as exc:
            status, reason = exc.code, exc.description
        self._sent, self._sent_at = key, time.monotonic()
        await self._answered(conn, status, reason, f"{limit:g} {unit}")

    def _target(self, rec: Any, limit: float, tx: int | str | None) -> tuple[int, str, int, float]:
        """Where the limit goes: (connector, purpose, profile id, limit)."""
        if rec.max_profile:  # one box-wide limit: the sum over its managed connectors
            rec.limits[self.connector] = limit
            return 0, "ChargePointMaxProfile", MAX_PROFILE_ID, round(sum(rec.limits.values()), 1)
        if self.opts.tx_profile and tx is not None:
            return self.connector, "TxProfile", TX_PROFILE_BASE + self.connector, limit
        return self.connector, "TxDefaultProfile", DEFAULT_PROFILE_BASE + self.connector, limit

    async def _answered(self, conn: Any, status: str, reason: str | None, what: str) -> None:
        if status == "Accepted":
            if self._rejected is not None:
                log.info("%s: box accepts profiles again", self.cb_id)
            self._rejected = None
            self._detail = None
            if conn.record.uncontrolled is not None:  # worth one more try of the default-deny
                await conn.install_deny()
            return
        text = f"profile rejected: box answered {status}" + (f" ({reason})" if reason else "")
        self._detail = Reason(
            "profile_rejected", {"status": status, **({"reason": reason} if reason else {})}
        )
        if text != self._rejected:
            self._rejected = text
            log.warning("%s: %s (limit %s)", self.cb_id, text, what)
            self._event("profile_rejected", f"{self.cb_id}: {text}")

    async def deactivate(self) -> Reason:
        """Clear ampshare's profiles so the box works without the manager; says how it went.

        With other connectors of the box still managed, the box-wide default-deny stays, so this
        connector gets a profile without a limit instead of none.
        """
        self._sent = self._want = None
        conn = self.server.connection(self.cb_id)
        if conn is None:
            self._detail = Reason("box_not_connected")
            return self._detail
        rec = conn.record
        others = [c for c in self.server.attached(self.cb_id) if c != self.connector]
        rec.limits.pop(self.connector, None)
        try:
            answers = await self._release(conn, others)
        except CallTimeout:
            text, result = "box did not answer", Reason("box_no_answer")
        except NotConnected:
            text, result = "box not connected", Reason("box_not_connected")
        except OcppCallError as exc:
            text, result = f"box answered {exc.code}", Reason("box_answered", {"status": exc.code})
        else:
            if "Accepted" in answers:
                text, result = "profiles cleared", Reason("profiles_cleared")
                if not others:
                    rec.released = True
                    conn.deny_status = None
                self._event("profiles_cleared", f"{self.cb_id}: charging profiles cleared")
            else:
                status = answers[0] if answers else "nothing"
                text, result = f"box answered {status}", Reason("box_answered", {"status": status})
        log.info("%s: deactivated: %s", self.cb_id, text)
        self._detail = result
        return result

    async def _release(self, conn: Any, others: list[int]) -> list[str]:
        """Every profile of ampshare's for this connector (and the box-wide ones when no other
        connector is managed); a box-wide deny that stays is lifted for this connector."""
        rec = conn.record
        ids = [DEFAULT_PROFILE_BASE + self.connector]
        if TX_PROFILE_BASE + self.connector in rec.installed:
            ids.append(TX_PROFILE_BASE + self.connector)
        if not others:
            ids.append(DENY_PROFILE_ID)
            if MAX_PROFILE_ID in rec.installed:
                ids.append(MAX_PROFILE_ID)
        answers: list[str] = []
        for pid in ids:  # one refusal must not keep the others in place
            try:
                answers.append(await conn.clear_profile(pid))
            except OcppCallError as exc:
                answers.append(exc.code)
        if others and rec.max_profile:
            status, _ = await conn.set_limit(
                0,
                round(sum(rec.limits.values()), 1),
                "A",
                None,
                profile_id=MAX_PROFILE_ID,
                purpose="ChargePointMaxProfile",
                stack_level=conn.stack_level(),
                relative=False,
            )
            answers.append(status)
        elif others and DENY_PROFILE_ID in rec.installed:
            status, _ = await conn.set_limit(
                self.connector,
                RELEASE_A,
                "A",
                None,
                profile_id=DEFAULT_PROFILE_BASE + self.connector,
                purpose="TxDefaultProfile",
                stack_level=conn.stack_level(),
                relative=self.style.relative,
            )
            answers.append(status)
        return answers

    async def close(self) -> None:
        self.server.detach(self.cb_id, self.connector, self)

    def _event(self, kind: str, message: str) -> None:
        try:
            self.server.hooks.events(kind, message, device=self.id)
        except Exception:
            log.exception("event sink failed")


def _evse(spec: DeviceSpec, opts: OcppEvseOptions, ctx: DeviceContext) -> OcppEvse:
    if ctx.ocpp is None:
        raise DeviceError("the OCPP server is not running in this manager")
    return OcppEvse(spec, opts, ctx.ocpp)


DRIVERS = (Driver("ocpp", "evse", "OCPP charge point (1.6J / 2.0.1)", OcppEvseOptions, _evse),)

"""What ampshare knows about a charge point: kept across its connections, in memory only."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from devices.ocpp.meter import MeterSample

#: ids of ampshare's charging profiles: default-deny on connector/EVSE 0, then per connector
DENY_PROFILE_ID = 19520
DEFAULT_PROFILE_BASE = 19520  # + connector: TxDefaultProfile of that connector
TX_PROFILE_BASE = 19620  # + connector: TxProfile of a running transaction (quirk option)
MAX_PROFILE_ID = 19700  # ChargePointMaxProfile on connector 0, for boxes without TxDefaultProfile
#: connectors (1.6) / EVSEs (2.0.1) one box may report; more is a broken or hostile box
MAX_CONNECTORS = 16


class ConnectorLimit(ValueError):
    """A box reported more connectors than any real box has."""


@dataclass
class Capabilities:
    """Read from the box after boot; None = the box did not say."""

    max_stack_level: int | None = None
    rate_units: tuple[str, ...] = ()  # "A" and/or "W"
    connectors: int | None = None
    phase_switching: bool | None = None
    measurands: tuple[str, ...] = ()

    @property
    def watts_only(self) -> bool:
        return bool(self.rate_units) and "A" not in self.rate_units


@dataclass
class ConnectorState:
    """One connector (1.6) or EVSE (2.0.1)."""

    status: str | None = None  # OCPP status as sent (Available, Charging, Occupied, ...)
    error_code: str | None = None
    info: str | None = None
    charging_state: str | None = None  # 2.0.1 TransactionEvent chargingState
    current_a: list[float | None] = field(default_factory=lambda: [None, None, None])
    current_total_a: float | None = None
    voltage_v: list[float | None] = field(default_factory=lambda: [None, None, None])
    power_w: float | None = None
    energy_wh: float | None = None
    meter_at: float | None = None
    transaction_id: int | str | None = None  # 1.6: ours; 2.0.1: the box's
    session_id: int | None = None  # our session record
    id_tag: str | None = None
    meter_start_wh: float | None = None
    signed: list[dict[str, Any]] = field(default_factory=list)

    def update_meter(self, sample: MeterSample) -> None:
        if sample.energy_wh is not None:
            self.energy_wh = sample.energy_wh
            if self.transaction_id is not None and self.meter_start_wh is None:
                self.meter_start_wh = sample.energy_wh  # the Started event carried no register
        if sample.power_w is not None:
            self.power_w = sample.power_w
        if any(v is not None for v in sample.current_a):
            self.current_a = list(sample.current_a)
            self.current_total_a = None
        elif sample.current_total_a is not None:
            self.current_total_a = sample.current_total_a
        if any(v is not None for v in sample.voltage_v):
            self.voltage_v = list(sample.voltage_v)
        self.meter_at = time.time()

    def end_transaction(self) -> None:
        self.transaction_id = None
        self.session_id = None
        self.id_tag = None
        self.meter_start_wh = None
        self.signed = []
        self.charging_state = None


@dataclass
class ChargePointRecord:
    id: str
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    protocol: str | None = None
    connected: bool = False
    last_seen: float | None = None
    caps: Capabilities = field(default_factory=Capabilities)
    connectors: dict[int, ConnectorState] = field(default_factory=dict)
    #: profile ids the box accepted from us (so deactivation clears exactly those)
    installed: set[int] = field(default_factory=set)
    #: given back to its own control (deactivated): no default-deny until a setpoint is sent
    released: bool = False
    status_seen: bool = False
    #: frames received since the manager started (for metrics)
    messages: int = 0
    #: the box refuses every deny profile: why (None = ampshare's profiles hold)
    uncontrolled: str | None = None
    #: ampshare switched the box Inoperative because it is not under control
    made_inoperative: bool = False
    #: the box takes only ChargePointMaxProfile: limits go there, summed over connectors
    max_profile: bool = False
    #: the last limit sent per connector (max-profile mode sums them)
    limits: dict[int, float] = field(default_factory=dict)

    def connector(self, n: int) -> ConnectorState:
        state = self.connectors.get(n)
        if state is None:
            if len(self.connectors) >= MAX_CONNECTORS:
                raise ConnectorLimit(f"more than {MAX_CONNECTORS} connectors")
            state = self.connectors[n] = ConnectorState()
        return state

    def open_transactions(self) -> list[tuple[int, ConnectorState]]:
        return [(n, s) for n, s in self.connectors.items() if s.transaction_id is not None]

    def touch(self) -> None:
        self.last_seen = time.time()

"""All wallboxes' gateways in one process: started, restarted and stopped as configs change.

The control loop sees this only through manager.model.BillingGateways: it hands over what it
observed of each box, and takes back the backend's cap and the status for the dashboard. The
OCPP server hands over what an OCPP box sent (`box_call`) and asks for the backend's answer to
a box's DataTransfer (`box_data_transfer`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from devices.ocpp.gateway import Gateway
from devices.ocpp.gateway_config import GatewaySettings
from devices.ocpp.gateway_relay import Relay
from manager.model import BackendCap, BoxObservation, EventSink

log = logging.getLogger(__name__)


class GatewayHub:
    def __init__(
        self,
        data_dir: Path,
        events: EventSink,
        local_user: Callable[[str], bool],
        ocpp_server: Any = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.events = events
        self.local_user = local_user
        self.server = ocpp_server
        self.gateways: dict[str, Gateway] = {}
        self._configs: dict[str, tuple[Any, ...]] = {}

    @staticmethod
    def _key(cfg: Mapping[str, Any]) -> tuple[Any, ...]:
        """What a gateway depends on: a change of any of it reconnects at once."""
        return (
            GatewaySettings.of(cfg),
            cfg.get("driver"),
            cfg.get("address"),
            cfg.get("connector_id"),
            cfg.get("max_current_a"),
            cfg.get("phases"),
            cfg.get("name"),
        )

    async def configure(self, devices: list[Mapping[str, object]]) -> None:
        wanted: dict[str, Mapping[str, Any]] = {}
        for cfg in devices:
            if cfg.get("kind") == "evse" and GatewaySettings.of(cfg) is not None:
                wanted[str(cfg["id"])] = cfg
        replaced: set[str] = set()
        for dev_id in list(self.gateways):
            cfg = wanted.get(dev_id)
            if cfg is None or self._key(cfg) != self._configs.get(dev_id):
                gw = self.gateways.pop(dev_id)
                self._configs.pop(dev_id, None)
                await gw.close()
                replaced.add(dev_id)
        for dev_id, cfg in wanted.items():
            if dev_id not in self.gateways:
                self._start(dev_id, cfg, resume=dev_id in replaced)

    def _start(self, dev_id: str, cfg: Mapping[str, Any], *, resume: bool = False) -> None:
        """A new gateway; `resume`: it replaces one of this process (a settings change), so a
        running transaction goes on instead of ending as after a reboot."""
        settings = GatewaySettings.of(cfg)
        assert settings is not None
        relay = None
        if cfg.get("driver") == "ocpp" and self.server is not None:
            relay = Relay(self.server, str(cfg.get("address")), int(cfg.get("connector_id", 1)))
        try:
            gw = Gateway(
                dev_id,
                str(cfg.get("name", dev_id)),
                settings,
                data_dir=self.data_dir,
                events=self.events,
                local_user=self.local_user,
                relay=relay,
                max_current_a=float(cfg.get("max_current_a", 16.0)),
                phases=int(cfg.get("phases", 3)),
            )
        except (OSError, ValueError) as exc:  # e.g. a client key the TLS library refuses
            log.warning("%s: gateway cannot start: %s", dev_id, exc)
            self.events("gateway_error", f"{cfg.get('name')}: gateway cannot start: {exc}",
                        device=dev_id)  # fmt: skip
            return
        gw.start(resume=resume)
        self.gateways[dev_id] = gw
        self._configs[dev_id] = self._key(cfg)
        log.info("%s: gateway to %s (%s)", dev_id, settings.endpoint, settings.protocol)

    def observe(self, evse_id: str, seen: BoxObservation) -> None:
        gw = self.gateways.get(evse_id)
        if gw is not None:
            gw.observe(seen)

    def cap(self, evse_id: str) -> BackendCap | None:
        gw = self.gateways.get(evse_id)
        return gw.cap() if gw is not None else None

    def status(self, evse_id: str) -> Mapping[str, object] | None:
        gw = self.gateways.get(evse_id)
        return gw.status() if gw is not None else None

    async def close(self) -> None:
        for gw in list(self.gateways.values()):
            await gw.close()
        self.gateways.clear()
        self._configs.clear()

    # ------------------------------------------------------------------ from the OCPP server

    def _relays(self, cb_id: str) -> list[Gateway]:
        return [g for g in self.gateways.values() if g.relay is not None and g.relay.cb_id == cb_id]

    def box_call(self, cb_id: str, action: str, payload: dict[str, Any], record: Any) -> None:
        """A request an OCPP box sent (already answered by the server)."""
        for gw in self._relays(cb_id):
            local_tx = None
            if action == "StartTransaction" and record is not None:
                local_tx = record.connector(int(payload.get("connectorId", 1))).transaction_id
            try:
                gw.on_box_call(action, payload, local_tx)
            except Exception:
                log.exception("%s: relaying %s failed", gw.id, action)

    async def box_authorize(self, cb_id: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The tag of a relayed box, decided by the backend (and the box's fallback setting)."""
        for gw in self._relays(cb_id):
            if gw.relaying:
                return await gw.box_authorize(payload)
        return None

    async def authorize(self, evse_id: str, tag: str) -> str | None:
        """A start from the dashboard: Authorize with the user's tag at this box's backend
        (the answer, after the box's fallback setting); None: this box has no gateway."""
        gw = self.gateways.get(evse_id)
        if gw is None:
            return None
        info = await gw.box_authorize(gw.msgs.authorize(tag)[1])
        return str(info.get("status") or "Invalid")

    async def box_data_transfer(self, cb_id: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The backend's answer to a box's DataTransfer; None: no gateway or not connected."""
        for gw in self._relays(cb_id):
            return await gw.box_data_transfer(payload)
        return None

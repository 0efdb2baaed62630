"""A gateway's settings (from the wallbox config) and what the backend configured (on disk).

The backend may change configuration keys (measurands, sample interval), install charging
profiles, set a connector Inoperative and teach accepted tags. A real charge point keeps all
that across a reboot, so the gateway does too: one small JSON file per wallbox, written
atomically when something changes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
VOLTAGE = "Voltage"
#: measurands the gateway can report (per phase for current and voltage)
SUPPORTED_MEASURANDS = (ENERGY, POWER, CURRENT, VOLTAGE)
DEFAULT_MEASURANDS = f"{ENERGY},{POWER}"
#: defaults of the configuration keys a backend may read and change
DEFAULT_KEYS: dict[str, str] = {
    "MeterValuesSampledData": DEFAULT_MEASURANDS,
    "MeterValueSampleInterval": "60",
    "HeartbeatInterval": "300",
    "TransactionMessageAttempts": "5",
    "TransactionMessageRetryInterval": "30",
    "AuthorizationCacheEnabled": "true",
    "LocalPreAuthorize": "true",
    "StopTransactionOnEVSideDisconnect": "true",
    "ConnectionTimeOut": "60",
    "NumberOfConnectors": "1",
    "ChargeProfileMaxStackLevel": "9",
    "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
    "ChargingScheduleMaxPeriods": "24",
    "MaxChargingProfilesInstalled": "10",
    "SupportedFeatureProfiles": "Core,SmartCharging,RemoteTrigger",
}
READ_ONLY_KEYS = frozenset(
    {
        "NumberOfConnectors",
        "ChargeProfileMaxStackLevel",
        "ChargingScheduleAllowedChargingRateUnit",
        "ChargingScheduleMaxPeriods",
        "MaxChargingProfilesInstalled",
        "SupportedFeatureProfiles",
    }
)
INTEGER_KEYS = frozenset(
    {
        "MeterValueSampleInterval",
        "HeartbeatInterval",
        "TransactionMessageAttempts",
        "TransactionMessageRetryInterval",
        "ConnectionTimeOut",
    }
)


@dataclass(frozen=True)
class GatewaySettings:
    """The `gateway_*` fields of one wallbox, validated by the manager."""

    url: str
    client_id: str
    password: str | None = None
    protocol: str = "ocpp1.6"
    ca_pem: str = ""
    client_cert_pem: str = ""
    client_key: str | None = None
    verify_tls: bool = True
    auth_fallback: str = "local"

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> GatewaySettings | None:
        url = str(cfg.get("gateway_url") or "")
        if not url:
            return None
        return cls(
            url=url,
            client_id=str(cfg.get("gateway_client_id") or ""),
            password=cfg.get("gateway_password") or None,
            protocol=str(cfg.get("gateway_protocol") or "ocpp1.6"),
            ca_pem=str(cfg.get("gateway_ca_pem") or ""),
            client_cert_pem=str(cfg.get("gateway_client_cert_pem") or ""),
            client_key=cfg.get("gateway_client_key") or None,
            verify_tls=bool(cfg.get("gateway_verify_tls", True)),
            auth_fallback=str(cfg.get("gateway_auth_fallback") or "local"),
        )

    @property
    def endpoint(self) -> str:
        """OCPP-J: the identity is the last path segment."""
        return f"{self.url.rstrip('/')}/{quote(self.client_id, safe='')}"

    @property
    def secure(self) -> bool:
        return self.url.startswith("wss://")

    def authorization(self) -> str | None:
        if not self.password:
            return None
        token = base64.b64encode(f"{self.client_id}:{self.password}".encode()).decode()
        return f"Basic {token}"

    def ssl_context(self, key_dir: Path) -> ssl.SSLContext | None:
        """TLS 1.2 or newer; the system trust store unless a CA bundle is given."""
        if not self.secure:
            return None
        if self.ca_pem:
            ctx = ssl.create_default_context(cadata=self.ca_pem)
        else:
            ctx = ssl.create_default_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if not self.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert_pem and self.client_key:
            # load_cert_chain takes files only: a private file, removed right after
            key_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=key_dir, suffix=".pem")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(self.client_cert_pem.strip() + "\n" + self.client_key.strip() + "\n")
                ctx.load_cert_chain(name)
            finally:
                os.unlink(name)
        return ctx


@dataclass
class BackendConfig:
    """What the backend set on this charge point; persisted in `path`."""

    path: Path
    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    profiles: list[dict[str, Any]] = field(default_factory=list)
    operative: bool = True
    #: accepted tags: tag -> expiry (epoch s; 0 = none given)
    tags: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> BackendConfig:
        cfg = cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cfg
        except (OSError, ValueError) as exc:
            log.warning("%s unreadable (%s): backend settings back to defaults", path, exc)
            return cfg
        cfg.keys.update({str(k): str(v) for k, v in (data.get("keys") or {}).items()})
        cfg.profiles = list(data.get("profiles") or [])
        cfg.operative = bool(data.get("operative", True))
        cfg.tags = {str(k): float(v) for k, v in (data.get("tags") or {}).items()}
        return cfg

    def save(self) -> None:
        data = {
            "keys": self.keys,
            "profiles": self.profiles,
            "operative": self.operative,
            "tags": self.tags,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    # ------------------------------------------------------------------ keys

    def change(self, key: str, value: str) -> str:
        """ChangeConfiguration: Accepted, Rejected or NotSupported, and stored when accepted."""
        if key not in self.keys:
            return "NotSupported"
        if key in READ_ONLY_KEYS:
            return "Rejected"
        if key in INTEGER_KEYS:
            try:
                if int(value) < 0:
                    return "Rejected"
            except ValueError:
                return "Rejected"
            value = str(int(value))
        if key == "MeterValuesSampledData":
            wanted = [m.strip() for m in value.split(",") if m.strip()]
            if not wanted or any(m not in SUPPORTED_MEASURANDS for m in wanted):
                return "Rejected"
            value = ",".join(wanted)
        self.keys[key] = value
        self.save()
        return "Accepted"

    def interval_s(self, key: str) -> float:
        try:
            return float(int(self.keys.get(key, "0")))
        except ValueError:
            return 0.0

    def measurands(self) -> list[str]:
        return [m for m in self.keys.get("MeterValuesSampledData", "").split(",") if m]

    # ------------------------------------------------------------------ tag cache

    def remember_tag(self, tag: str, expiry: float | None) -> None:
        self.tags[tag] = expiry or 0.0
        self.save()

    def forget_tag(self, tag: str) -> None:
        if self.tags.pop(tag, None) is not None:
            self.save()

    def cached(self, tag: str, now: float | None = None) -> bool:
        expiry = self.tags.get(tag)
        if expiry is None:
            return False
        return expiry == 0.0 or expiry > (now if now is not None else time.time())

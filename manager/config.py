"""The configuration a user edits: settings, circuits and devices, as pydantic models, so the
API, the store and the CLI share one set of rules and every error names its field. The grid
connection is not stored as a circuit: it is the root circuit `main`, derived from the site
settings, so its limit cannot disagree with `site.max_current_a`.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from manager.gatewayconfig import GatewayFields, gateway_errors
from manager.integration_settings import MetricsSettings, MqttSettings
from manager.modeconfig import ModeFields, SolarFields
from manager.model import ROTATIONS, Circuit, MeterRole
from manager.rules_config import LimitSettings, RuleFields

SCHEMA_VERSION = 1
ROOT_CIRCUIT = "main"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
_ID_RE = re.compile(ID_PATTERN)


class InvalidInput(ValueError):
    """Input that breaks a rule; `errors` lists {"field", "message"} for the API and the forms."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))

    @classmethod
    def one(cls, field: str, message: str) -> InvalidInput:
        return cls([{"field": field, "message": message}])

    @classmethod
    def from_pydantic(cls, exc: ValidationError, prefix: str = "") -> InvalidInput:
        errors = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "body"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            errors.append({"field": prefix + field, "message": msg})
        return cls(errors)


class NotFound(KeyError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


SECRET_WORDS = ("password", "secret", "token")


def is_secret(key: str, schema: Mapping[str, Any] | None = None) -> bool:
    """Fields that are write-only: stored, never shown or sent back, never pre-filled in a form.

    By name (a password, secret or token, or a `..._key`), or because the field's JSON schema
    says so (`writeOnly`, `format: password`). The API, the store and the forms use this one rule.
    """
    if any(w in key for w in SECRET_WORDS) or key.endswith("_key"):
        return True
    return schema is not None and (
        bool(schema.get("writeOnly")) or schema.get("format") == "password"
    )


def public(item: dict[str, Any]) -> dict[str, Any]:
    """A stored object as the API shows it: secrets replaced by `<name>_set` flags."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if is_secret(key):
            out[f"{key}_set"] = bool(value)
        else:
            out[key] = value
    return out


def merge_secrets(old: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Write-only secrets: absent or "" keeps the stored value, null clears it."""
    merged = {**old, **patch}
    for key in list(merged):
        if is_secret(key) and key in patch and patch[key] == "" and key in old:
            merged[key] = old[key]
        if key.endswith("_set") and is_secret(key[:-4]):
            merged.pop(key)
    return merged


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SiteSettings(_Strict, SolarFields):
    max_current_a: float = Field(32.0, gt=0, le=2000, description="Main fuse per phase (A)")
    max_power_w: float | None = Field(None, gt=0, description="Optional power limit (W)")
    reserve_a: float = Field(0.0, ge=0, le=100, description="Kept free on every phase (A)")
    max_unbalance_a: float | None = Field(
        20.0, gt=0, le=200, description="Max difference between phases (A); VDE-AR-N 4100: 20 A"
    )
    unbalance_counts_base: bool = Field(
        False, description="Count the household's own unbalance too, not only the wallboxes'"
    )
    control_interval_s: float = Field(1.0, ge=0.2, le=60, description="Control cycle (s)")
    safe_current_a: float = Field(
        10.0, ge=0, le=2000, description="Total per phase for all wallboxes in safe mode (A)"
    )
    meter_timeout_s: float = Field(
        10.0, ge=1, le=600, description="Grid meter silent this long -> safe mode (s)"
    )
    nominal_voltage_v: float = Field(230.0, ge=100, le=300, description="For power limits (V)")
    rotation_s: float = Field(
        900.0, ge=60, le=86400, description="Slot time when not every car can charge (s)"
    )
    resume_delay_s: float = Field(
        60.0, ge=0, le=3600, description="A paused car waits this long before it resumes (s)"
    )


class OcppServerSettings(_Strict):
    port: int = Field(19520, ge=1, le=65535, description="OCPP server port")
    tls: Literal["off", "detect", "on"] = Field("off", description="TLS: off, detect or on")
    password: str | None = Field(
        None, max_length=64, description="Basic Auth password for charge points (optional)"
    )
    clear_profiles_on_deactivate: bool = Field(
        True, description="Cancel charging current limit on deactivation"
    )
    unknown_tags: Literal["accept", "known"] = Field(
        "accept", description="RFID tags not in the users list: accept or refuse"
    )
    ca_pem: str | None = Field(
        None,
        max_length=65536,
        description="CA of the wallboxes' client certificates (PEM, security profile 3)",
    )
    local_ca: bool = Field(
        False,
        description="Sign charge points' certificate requests with ampshare's own CA and "
        "accept the certificates it signed (security profile 3)",
    )
    tariff_per_kwh: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Fixed price per kWh: OCPP 2.0.1 boxes show the running cost (empty: off)",
    )
    show_reasons: bool = Field(
        False, description="Show the current reason on the display of OCPP 2.0.1 boxes"
    )

    @field_validator("ca_pem")
    @classmethod
    def _ca_pem(cls, value: str | None) -> str | None:
        return check_ca_pem(value) if value and value.strip() else None


_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


def check_ca_pem(text: str) -> str:
    """The CA certificates as clean PEM (a form field may have folded the lines); ValueError
    if there is none, or one that does not parse."""
    bodies = [re.sub(r"\s+", "", body) for body in _PEM_CERT.findall(text)]
    if not bodies:
        raise ValueError("not a PEM certificate (-----BEGIN CERTIFICATE----- ...)")
    pem = "".join(
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        + "\n-----END CERTIFICATE-----\n"
        for body in bodies
    )
    try:
        x509.load_pem_x509_certificates(pem.encode("ascii"))
        ssl.create_default_context(cadata=pem)
    except (ValueError, UnicodeError, ssl.SSLError):
        raise ValueError("not a valid PEM certificate") from None
    return pem


class Settings(_Strict):
    site: SiteSettings = Field(default_factory=SiteSettings)
    ocpp: OcppServerSettings = Field(default_factory=OcppServerSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)


class CircuitConfig(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    parent: str = Field(ROOT_CIRCUIT, description="Circuit this board hangs in")
    max_current_a: float = Field(gt=0, le=2000, description="Fuse per phase (A)")
    max_power_w: float | None = Field(None, gt=0)
    max_unbalance_a: float | None = Field(None, gt=0, le=200)
    reserve_a: float = Field(0.0, ge=0, le=100)
    meter: str | None = Field(None, description="Meter measuring this circuit (optional)")


class DeviceBase(_Strict):
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["evse", "meter"]
    driver: str = Field(min_length=1)
    enabled: bool = True
    address: str = Field("", max_length=256, description="Host:port, ChargeBox ID or serial port")


class EvseConfig(DeviceBase, GatewayFields, ModeFields, RuleFields):
    kind: Literal["evse"] = "evse"
    min_current_a: float = Field(6.0, ge=0, le=80, description="Lowest current the car accepts")
    max_current_a: float = Field(16.0, gt=0, le=80, description="Highest current of the box")
    phases: Literal[1, 3] = Field(3, description="Wired phases")
    phase_rotation: str = Field("L1L2L3", description="Site phase of the box's L1, L2, L3")
    priority: int = Field(1, ge=0, le=9, description="Higher is served first")
    circuit: str = Field(ROOT_CIRCUIT, description="Circuit the box hangs in")
    # charge_mode and phase_switching come from ModeFields (manager/modeconfig.py)
    authorization: Literal["free", "local", "gateway"] = Field(
        "free", description="Who may charge: free (plug and charge), local users, gateway"
    )
    default_user: str | None = Field(
        None, max_length=40, description="User a free box's sessions go to (user id)"
    )

    @field_validator("phase_rotation")
    @classmethod
    def _rotation(cls, v: str) -> str:
        if v not in ROTATIONS:
            raise ValueError(f"must be one of {', '.join(ROTATIONS)}")
        return v


class MeterConfig(DeviceBase):
    kind: Literal["meter"] = "meter"
    role: MeterRole = Field(MeterRole.GRID, description="What the meter measures")


COMMON_FIELDS = {
    "evse": set(EvseConfig.model_fields),
    "meter": set(MeterConfig.model_fields),
}


DriverCheck = Callable[[str, str, str, dict[str, Any]], dict[str, Any]]


def validate_device(data: Mapping[str, Any], check_driver: DriverCheck) -> dict[str, Any]:
    """Validate common fields here, the rest with `check_driver(driver, kind, address, fields)`.

    `check_driver` returns the driver's fields with defaults filled in and raises InvalidInput
    for an unknown driver, a driver of the other kind, a bad address, a bad or unknown field.
    """
    kind = data.get("kind")
    model = {"evse": EvseConfig, "meter": MeterConfig}.get(str(kind))
    if model is None:
        raise InvalidInput.one("kind", "must be 'evse' or 'meter'")
    extra_errors = gateway_errors(data) if model is EvseConfig else []
    try:
        common = model.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInput(InvalidInput.from_pydantic(exc).errors + extra_errors) from None
    if extra_errors:
        raise InvalidInput(extra_errors)
    if isinstance(common, EvseConfig) and common.min_current_a > common.max_current_a:
        raise InvalidInput.one("min_current_a", "must not be above max_current_a")
    extras = dict(common.model_extra or {})
    merged = common.model_dump(mode="json", exclude=set(extras))
    merged.update(check_driver(common.driver, common.kind, common.address, extras))
    return merged


def slug(name: str, taken: Iterable[str]) -> str:
    """A readable id from a name, unique among `taken`."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32] or "item"
    if not base[0].isalnum():
        base = "x" + base
    used = set(taken)
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def new_id(data: Mapping[str, Any], taken: set[str]) -> str:
    """The id given in `data` (checked), or one made from its name, unique among `taken`."""
    given = data.get("id")
    if given is None:
        return slug(str(data.get("name") or data.get("kind") or "device"), taken)
    if not isinstance(given, str) or not valid_id(given):
        raise InvalidInput.one("id", "use 1-40 lower-case letters, digits, - or _")
    if given in taken:
        raise InvalidInput.one("id", f"{given!r} is taken")
    return given


def root_circuit(site: SiteSettings, meter: str | None) -> dict[str, Any]:
    """The grid connection as a circuit dict, as the API shows it."""
    return {
        "id": ROOT_CIRCUIT,
        "name": "Grid connection",
        "parent": None,
        "max_current_a": site.max_current_a,
        "max_power_w": site.max_power_w,
        "max_unbalance_a": site.max_unbalance_a,
        "reserve_a": site.reserve_a,
        "meter": meter,
    }


def check_tree(circuits: Iterable[CircuitConfig]) -> None:
    """Every parent exists and there is no cycle; raises InvalidInput naming the circuit."""
    by_id = {c.id: c for c in circuits}
    for c in by_id.values():
        if c.id == ROOT_CIRCUIT:
            raise InvalidInput.one("id", f"'{ROOT_CIRCUIT}' is the grid connection")
        seen = {c.id}
        parent = c.parent
        while parent != ROOT_CIRCUIT:
            if parent not in by_id:
                raise InvalidInput.one("parent", f"circuit {c.name!r}: unknown parent {parent!r}")
            if parent in seen:
                raise InvalidInput.one("parent", f"circuit {c.name!r}: parents form a cycle")
            seen.add(parent)
            parent = by_id[parent].parent


def to_circuits(
    site: SiteSettings,
    circuits: Iterable[CircuitConfig],
    base_load: Mapping[str, tuple[float, float, float]],
) -> tuple[Circuit, ...]:
    """Allocator circuits: the root from the site settings, then the stored sub-boards."""
    zero = (0.0, 0.0, 0.0)
    out = [
        Circuit(
            id=ROOT_CIRCUIT,
            name="Grid connection",
            parent=None,
            max_current_a=site.max_current_a,
            max_power_w=site.max_power_w,
            reserve_a=site.reserve_a,
            base_load_a=base_load.get(ROOT_CIRCUIT, zero),
            max_unbalance_a=site.max_unbalance_a,
            unbalance_counts_base=site.unbalance_counts_base,
        )
    ]
    for c in circuits:
        out.append(
            Circuit(
                id=c.id,
                name=c.name,
                parent=c.parent,
                max_current_a=c.max_current_a,
                max_power_w=c.max_power_w,
                reserve_a=c.reserve_a,
                base_load_a=base_load.get(c.id, zero),
                max_unbalance_a=c.max_unbalance_a,
                unbalance_counts_base=site.unbalance_counts_base,
            )
        )
    return tuple(out)

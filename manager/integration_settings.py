"""The settings of the integrations (MQTT, the Prometheus metrics): sections of
`manager.config.Settings`, kept apart so config.py stays small."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MqttSettings(_Strict):
    host: str = Field("", max_length=253, description="Broker host; empty: MQTT off")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (1883, TLS 8883)")
    tls: bool = Field(False, description="Connect with TLS")
    username: str = Field("", max_length=128, description="User name (optional)")
    password: str | None = Field(None, max_length=256, description="Password (optional)")
    base_topic: str = Field(
        "ampshare",
        min_length=1,
        max_length=64,
        pattern=r"^[^#+/\s][^#+\s]*[^#+/\s]$|^[^#+/\s]$",
        description="Topic prefix, no wildcards",
    )
    retain: bool = Field(True, description="Publish state retained")


class MetricsSettings(_Strict):
    token: str | None = Field(
        None,
        min_length=16,
        max_length=128,
        description="Bearer token for /metrics; without one only this machine may read it",
    )

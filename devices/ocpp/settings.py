"""Settings of the OCPP server, as the manager hands them over (validated here, once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from devices.ocpp.tls import check_ca_pem

TlsMode = Literal["off", "detect", "on"]
TagPolicy = Literal["accept", "known"]


@dataclass(frozen=True)
class OcppSettings:
    """`tls`: "off" plain only, "on" TLS only, "detect" both on one port.

    `password` is the server-wide Basic Auth password (None: none); `ca_pem` the CA that client
    certificates must chain to (security profile 3). `unknown_tags`: "accept" lets every RFID
    charge, "known" only those in the users table.
    """

    host: str = "0.0.0.0"
    port: int = 19520
    tls: TlsMode = "off"
    password: str | None = None
    ca_pem: str | None = None
    unknown_tags: TagPolicy = "accept"
    heartbeat_s: int = 300
    sample_interval_s: int = 10
    #: keepalive ping period (s); a box that does not answer within the same time is dropped
    ping_interval_s: float = 30.0
    #: frames above this get a CALLERROR; the connection stays up
    max_frame_bytes: int = 128 * 1024
    #: how long ampshare waits for a box to answer a request (s)
    response_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"port: {self.port!r} is not a TCP port (0-65535)")
        if self.tls not in ("off", "detect", "on"):
            raise ValueError(f"tls: {self.tls!r} is not one of off, detect, on")
        if self.unknown_tags not in ("accept", "known"):
            raise ValueError(f"unknown_tags: {self.unknown_tags!r} is not one of accept, known")
        if self.password is not None and not self.password:
            object.__setattr__(self, "password", None)
        if self.ca_pem is not None and not self.ca_pem.strip():
            object.__setattr__(self, "ca_pem", None)
        if self.ca_pem is not None:
            try:
                check_ca_pem(self.ca_pem)
            except ValueError as exc:
                raise ValueError(f"ca_pem: {exc}") from None
        if not 1 <= self.heartbeat_s <= 86400:
            raise ValueError("heartbeat_s: must be between 1 and 86400 seconds")
        if not 1 <= self.sample_interval_s <= 3600:
            raise ValueError("sample_interval_s: must be between 1 and 3600 seconds")
        if self.max_frame_bytes < 1024:
            raise ValueError("max_frame_bytes: must be at least 1024")

    def listener_key(self) -> tuple[object, ...]:
        """What needs a new listener when it changes."""
        return (self.host, self.port, self.tls, self.password, self.ca_pem, self.ping_interval_s)

"""The gateway fields of a wallbox: what they mean and the rules they must keep.

Kept apart from config.py so the checks (URL, identity, PEM) stay in one small place. Every
mistake is reported at once, naming its field, before anything is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, Field

from manager.invalid import problem

#: the fields, with their defaults, documented in the API schema and the device form
GatewayProtocol = Literal["ocpp1.6", "ocpp2.0.1"]
AuthFallback = Literal["refuse", "local", "anyone"]


class GatewayFields(BaseModel):
    """Mixed into EvseConfig: each wallbox may report to a billing backend."""

    gateway_url: str = Field(
        "",
        max_length=512,
        description="Billing backend, ws:// or wss://; the client id is appended. Empty: none",
    )
    gateway_client_id: str = Field(
        "", max_length=48, description="Identity the backend knows this wallbox by"
    )
    gateway_password: str | None = Field(
        None,
        max_length=128,
        description="Basic Auth password at the backend (write-only)",
        json_schema_extra={"writeOnly": True},
    )
    gateway_protocol: GatewayProtocol = Field("ocpp1.6", description="OCPP version to speak")
    gateway_ca_pem: str = Field(
        "", max_length=65536, description="Trust only these CA certificates (PEM); empty: system"
    )
    gateway_client_cert_pem: str = Field(
        "", max_length=65536, description="Client certificate (PEM, security profile 3)"
    )
    gateway_client_key: str | None = Field(
        None,
        max_length=65536,
        description="Private key of the client certificate (PEM, write-only)",
        json_schema_extra={"writeOnly": True},
    )
    gateway_verify_tls: bool = Field(True, description="Check the backend's certificate")
    gateway_auth_fallback: AuthFallback = Field(
        "local",
        description="Tag refused or backend unreachable: refuse, local users (not billed), anyone",
    )


GATEWAY_FIELDS = frozenset(GatewayFields.model_fields)


def _url_errors(url: str) -> list[tuple[str, str]]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return [("bad_url", "is not a valid URL")]
    if parts.scheme not in ("ws", "wss"):
        return [("bad_url_scheme", "must start with ws:// or wss://")]
    if not parts.hostname:
        return [("bad_url", "names no host")]
    if port == 0:
        return [("bad_url", "has port 0")]
    if parts.fragment or any(c.isspace() for c in url):
        return [("bad_url", "is not a valid URL")]
    return []


def _client_id_errors(client_id: str, url: str) -> list[tuple[str, str]]:
    if not client_id:
        return [("required", "is needed when a gateway URL is set")] if url else []
    if any(c in client_id for c in ":/?#%") or not client_id.isprintable() or " " in client_id:
        return [("bad_client_id", "must not contain spaces or : / ? # %")]
    return []


def _certificates(pem: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValueError("is not a PEM certificate") from None
    return certs


def _pem_errors(data: Mapping[str, Any]) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    ca = str(data.get("gateway_ca_pem") or "")
    if ca:
        try:
            _certificates(ca)
        except ValueError as exc:
            errors.append(problem("gateway_ca_pem", "not_pem_cert", str(exc)))
    return errors + _client_cert_errors(data)


def _client_cert_errors(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """Security profile 3: a certificate and its key, both PEM, that belong together."""
    errors: list[dict[str, str]] = []
    cert_pem = str(data.get("gateway_client_cert_pem") or "")
    key_pem = str(data.get("gateway_client_key") or "")
    cert = key = None
    if cert_pem:
        try:
            cert = _certificates(cert_pem)[0]
        except ValueError as exc:
            errors.append(problem("gateway_client_cert_pem", "not_pem_cert", str(exc)))
    if key_pem:
        try:
            key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        except (ValueError, TypeError):
            errors.append(problem("gateway_client_key", "not_pem_key", "is not a PEM private key"))
    if cert_pem and not key_pem:
        errors.append(problem("gateway_client_key", "key_needed", "is needed with a certificate"))
    if key_pem and not cert_pem:
        errors.append(problem("gateway_client_cert_pem", "cert_needed", "is needed with a key"))
    if cert is not None and key is not None:
        fmt = serialization.PublicFormat.SubjectPublicKeyInfo
        enc = serialization.Encoding.DER
        if cert.public_key().public_bytes(enc, fmt) != key.public_key().public_bytes(enc, fmt):
            mismatch = "does not match the certificate"
            errors.append(problem("gateway_client_key", "key_mismatch", mismatch))
    return errors


def gateway_errors(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every mistake in the gateway fields of a wallbox, as {"field", "message"}."""
    url = data.get("gateway_url") or ""
    client_id = data.get("gateway_client_id") or ""
    if not isinstance(url, str) or not isinstance(client_id, str):
        return []  # wrong types are reported by the model
    errors = [problem("gateway_url", c, m) for c, m in (_url_errors(url) if url else [])]
    errors += [problem("gateway_client_id", c, m) for c, m in _client_id_errors(client_id, url)]
    return errors + _pem_errors(data)

"""Gateway security: wss with TLS 1.2 and a private CA, client certificates, Basic auth, and
the plain-words errors (wrong password, certificate not trusted, host unreachable)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from gateway_backend import Backend
from manager_process import ManagerProcess
from ports import free_port

pytestmark = pytest.mark.slow


def _pem(obj: Any) -> str:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _cert(
    subject: str, key: Any, issuer: x509.Certificate | None, issuer_key: Any, *, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki() -> dict[str, str]:
    """A private CA with a server certificate for 127.0.0.1 and a client certificate."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Test billing CA", ca_key, None, ca_key, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert("127.0.0.1", srv_key, ca, ca_key, ca=False)
    cli_key = ec.generate_private_key(ec.SECP256R1())
    cli = _cert("GWTLS-client", cli_key, ca, ca_key, ca=False)
    return {
        "ca": _pem(ca),
        "server_cert": _pem(srv),
        "server_key": _pem(srv_key),
        "client_cert": _pem(cli),
        "client_key": _pem(cli_key),
    }


def box(dev_id: str, url: str, client_id: str, password: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "evse", "driver": "sim-evse", "id": dev_id, "name": dev_id, "car": "none",
        "gateway_url": url, "gateway_client_id": client_id, "gateway_password": password, **extra,
    }  # fmt: skip


def gateway(state: dict[str, Any], dev_id: str) -> dict[str, Any]:
    found = [e for e in state["evses"] if e["id"] == dev_id]
    return (found[0]["gateway"] or {}) if found else {}


def test_wss_with_private_ca_client_certificate_and_errors(
    tmp_path: Path, pki: dict[str, str]
) -> None:
    tls = {"cert": pki["server_cert"], "key": pki["server_key"], "clientCa": pki["ca"]}
    secure = Backend(tls=tls)  # security profile 3: a client certificate is required
    server_only = Backend(tls={"cert": pki["server_cert"], "key": pki["server_key"]})
    plain = Backend()
    mgr = ManagerProcess("serve", data_dir=tmp_path / "data")
    try:
        mgr.wait_ready()
        pw = secure.cfg["password"]
        devices = [
            box("trusted", secure.url, "GWTLS", pw, gateway_ca_pem=pki["ca"],
                gateway_client_cert_pem=pki["client_cert"], gateway_client_key=pki["client_key"]),
            box("untrusted", server_only.url, "GWSYS", pw),
            box("wrongpw", plain.url, "GWPW", "not-the-password"),
            box("nohost", f"ws://127.0.0.1:{free_port()}/ocpp", "GWNONE", pw),
        ]  # fmt: skip
        for device in devices:
            created = mgr.api.post("/api/devices", json=device)
            assert created.status_code == 201, created.text
            assert "gateway_client_key" not in created.json()
        secure.wait("call", method="BootNotification", identity="GWTLS")
        hello = secure.wait("tls")
        assert hello["protocol"] == "TLSv1.2" and hello["client"] == "GWTLS-client"
        state = mgr.wait_for(
            lambda s: (
                gateway(s, "trusted").get("connected")
                and gateway(s, "untrusted").get("error") == "certificate_untrusted"
                and gateway(s, "wrongpw").get("error") == "http_401"
                and gateway(s, "nohost").get("error") == "unreachable"
            ),
            timeout_s=20,
        )
        assert gateway(state, "trusted")["insecure"] is False
        assert not secure.calls("BootNotification") or all(
            c["identity"] == "GWTLS" for c in secure.calls("BootNotification")
        )
        # verification off is allowed, and flagged for the tile
        off = mgr.api.patch(
            "/api/devices/untrusted", json={"gateway_verify_tls": False, "gateway_password": ""}
        )
        assert off.status_code == 200, off.text
        server_only.wait("call", method="BootNotification", identity="GWSYS")
        state = mgr.wait_for(lambda s: gateway(s, "untrusted").get("connected"))
        assert gateway(state, "untrusted")["insecure"] is True
        page = mgr.api.get("/")
        assert page.status_code == 200
        assert "certificate is not checked" in page.text
        assert "wrong password (HTTP 401)" in page.text
    finally:
        mgr.stop()
        secure.stop()
        server_only.stop()
        plain.stop()


def test_bad_gateway_settings_get_422_naming_each_field(tmp_path: Path) -> None:
    mgr = ManagerProcess("serve", data_dir=tmp_path / "data")
    try:
        mgr.wait_ready()
        base = box("b", "ws://127.0.0.1:9/ocpp", "GW", "pw")
        cases = [
            ({"gateway_url": "ws://[bad"}, "gateway_url"),
            ({"gateway_url": "http://backend.example/ocpp"}, "gateway_url"),
            ({"gateway_client_id": ""}, "gateway_client_id"),
            ({"gateway_ca_pem": "-----BEGIN CERTIFICATE-----\nnope\n"}, "gateway_ca_pem"),
            ({"gateway_client_cert_pem": "junk", "gateway_client_key": "junk"},
             "gateway_client_cert_pem"),
            ({"gateway_protocol": "ocpp2.1"}, "gateway_protocol"),
        ]  # fmt: skip
        for patch, field in cases:
            resp = mgr.api.post("/api/devices", json={**base, **patch})
            assert resp.status_code == 422, (patch, resp.text)
            fields = [e["field"] for e in resp.json()["errors"]]
            assert field in fields, (patch, fields)
        everything = {**base, "gateway_url": "https://x", "gateway_client_id": "",
                      "gateway_ca_pem": "junk"}  # fmt: skip
        resp = mgr.api.post("/api/devices", json=everything)
        fields = {e["field"] for e in resp.json()["errors"]}
        assert fields == {"gateway_url", "gateway_client_id", "gateway_ca_pem"}
        assert mgr.api.get("/api/devices").json() == []  # nothing stored
        ok = mgr.api.post("/api/devices", json=base)
        assert ok.status_code == 201
        bad = mgr.api.patch("/api/devices/b", json={"gateway_url": "tcp://x"})
        assert bad.status_code == 422
        assert mgr.api.get("/api/devices/b").json()["gateway_url"] == "ws://127.0.0.1:9/ocpp"
        form = mgr.api.get("/devices/b")
        assert "Gateway to a billing backend" in form.text and "<textarea" in form.text
        form_de = mgr.api.get("/devices/b", headers={"Accept-Language": "de"})
        assert "Gateway zu einem Abrechnungs-Backend" in form_de.text
        assert "Backend-URL" in form_de.text
        cleared = mgr.api.patch("/api/devices/b", json={"gateway_password": None})
        assert cleared.json()["gateway_password_set"] is False
        assert mgr.api.patch("/api/devices/b", json={"gateway_url": ""}).status_code == 200
    finally:
        mgr.stop()

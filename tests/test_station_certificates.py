"""Certificates: ampshare's local CA signs a box's CSR (SignCertificate -> CertificateSigned) and
the box then logs in with that certificate alone under TLS `on` (security profile 3); install,
list and delete certificates on the box; security events are stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from station_support import node_station
from test_ocpp_support import running_server, until

from devices.ocpp.station import StationDesk
from devices.ocpp.station_ca import LocalCA

PASSWORD = "box-password-1234"


def key_and_csr(common_name: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


async def ready(server: object, cb_id: str) -> None:
    await until(lambda: (c := server.connection(cb_id)) is not None and c.ready)  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_signed_certificate_logs_in_under_tls_on(tmp_path: Path, version: str) -> None:
    ca = LocalCA(tmp_path / "ca")
    async with running_server(tmp_path, tls="on", ca_pem=ca.certificate_pem()) as (server, hooks):
        server.station.signer = ca.sign
        hooks.passwords["CERT1"] = PASSWORD
        desk = StationDesk(server)
        server_ca = server.certificate_pem()
        tls = {"scheme": "wss", "ca": server_ca}
        key_pem, csr_pem = key_and_csr("CERT1")
        async with node_station(server.port, "CERT1", version, password=PASSWORD, **tls) as box:
            await ready(server, "CERT1")
            assert desk.identity("CERT1")["security_profile"] == 2
            params = {"csr": csr_pem}
            if version == "2.0.1":
                params["certificateType"] = "ChargingStationCertificate"
            assert (await box.call("SignCertificate", params))["result"]["status"] == "Accepted"
            chain = (await box.next("signed"))["chain"]
            _, bad_csr = key_and_csr("SOMEONE-ELSE")
            assert (await box.call("SignCertificate", {"csr": bad_csr}))["result"] == {
                "status": "Accepted"
            }
            await until(lambda: "certificate_refused" in hooks.kinds())
            await box.send(close=True)
            await until(lambda: server.connection("CERT1") is None)
        leaf = x509.load_pem_x509_certificate(chain.encode())
        assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CERT1"
        hooks.passwords.clear()  # from now on the certificate alone must do
        async with node_station(
            server.port, "CERT1", version, cert=chain, key=key_pem, **tls
        ) as _box:
            await ready(server, "CERT1")
            assert desk.identity("CERT1")["security_profile"] == 3
        assert "certificate_signed" in hooks.kinds()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_install_list_delete_and_security_events(tmp_path: Path, version: str) -> None:
    async with running_server(tmp_path) as (server, hooks):
        desk = StationDesk(server)
        async with node_station(server.port, "CRT", version) as box:
            await ready(server, "CRT")
            nothing = await desk.run("CRT", "certificates", {"operation": "list"})
            assert nothing["status"] == "NotFound"
            installed = await desk.run("CRT", "certificates", {"operation": "install"})
            assert installed["status"] == "Accepted"
            sent = await box.request("InstallCertificate")
            assert sent["certificate"].strip() == server.certificate_pem().strip()
            listed = await desk.run("CRT", "certificates", {"operation": "list"})
            assert listed["status"] == "Accepted"
            hashes_ = listed["payload"].get("certificateHashData") or [
                c["certificateHashData"] for c in listed["payload"]["certificateHashDataChain"]
            ]
            h = hashes_[0]
            gone = await desk.run(
                "CRT",
                "certificates",
                {"operation": "delete", "issuer_name_hash": h["issuerNameHash"],
                 "issuer_key_hash": h["issuerKeyHash"], "serial_number": h["serialNumber"]},
            )  # fmt: skip
            assert gone["status"] == "Accepted"
            renew = await desk.run("CRT", "certificates", {"operation": "renew"})
            assert renew["status"] == "Accepted"
            event = {"type": "FirmwareUpdated", "timestamp": "2026-01-01T00:00:00Z"}
            await box.call("SecurityEventNotification", event)
            await until(lambda: "security_event" in hooks.kinds())
            # no CA configured: a CSR is refused, nothing is signed
            _, csr_pem = key_and_csr("CRT")
            assert (await box.call("SignCertificate", {"csr": csr_pem}))["result"] == {
                "status": "Rejected"
            }

"""Basic Auth (profiles 1, 2), TLS off / on / detect on one port, certificates, client certs."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.v16 import call
from test_ocpp_support import connect, running_server
from websockets.exceptions import InvalidStatus

from devices.ocpp.auth import charge_box_id, check_basic_auth
from devices.ocpp.settings import OcppSettings

PASSWORD = "s3cret-password-16"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def status_of(port: int, cb_id: str, headers: dict[str, str] | None) -> int:
    try:
        async with connect(port, cb_id, headers=headers, boot=False, status=False):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_server_password(tmp_path: Path) -> None:
    async with running_server(tmp_path, password=PASSWORD) as (server, _):
        port = server.port
        assert await status_of(port, "BOX1", basic("BOX1", PASSWORD)) == 101
        assert await status_of(port, "BOX1", basic("BOX1", "wrong-password-16")) == 401
        assert await status_of(port, "BOX1", None) == 401
        assert await status_of(port, "BOX1", basic("BOX2", PASSWORD)) == 401
        assert await status_of(port, "BOX1", {"Authorization": "Bearer abc"}) == 401
        # the key as hex (1.6 AuthorizationKey is hex-represented)
        assert await status_of(port, "BOX1", basic("BOX1", PASSWORD.encode().hex())) == 101


async def test_device_password_wins_over_server_password(tmp_path: Path) -> None:
    async with running_server(tmp_path, password=PASSWORD) as (server, hooks):
        hooks.passwords["BOX1"] = "own-box-password-1"
        port = server.port
        assert await status_of(port, "BOX1", basic("BOX1", "own-box-password-1")) == 101
        assert await status_of(port, "BOX1", basic("BOX1", PASSWORD)) == 401
        assert await status_of(port, "BOX2", basic("BOX2", PASSWORD)) == 101


async def test_no_password_configured_lets_everyone_in(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        assert await status_of(server.port, "ANY", None) == 101
        key = "ABCDEFGHIJKLMNOP"
        hooks.passwords["ANY"] = key.encode().hex()  # the installer typed the hex form
        assert await status_of(server.port, "ANY", None) == 401
        assert await status_of(server.port, "ANY", basic("ANY", key)) == 101
        assert check_basic_auth(basic("ANY", key)["Authorization"], "ANY", "nothex!") is not None


def test_charge_box_id_parsing() -> None:
    assert charge_box_id("/BOX1") == "BOX1"
    assert charge_box_id("/steve/websocket/CentralSystemService/BOX1?x=1") == "BOX1"
    assert charge_box_id("/ocpp/Box%20A/") == "Box A"
    for bad in ("/", "", "/ocpp/a%3Ab", "/" + "x" * 100):
        with pytest.raises(ValueError):
            charge_box_id(bad)


async def test_bad_path_is_refused(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        with pytest.raises(InvalidStatus) as err:
            await websockets.connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5)
        assert err.value.response.status_code == 404


def client_ctx(cadata: str, **kw: object) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=cadata)
    for key, value in kw.items():
        setattr(ctx, key, value)
    return ctx


async def plain_works(port: int, cb_id: str) -> bool:
    try:
        async with connect(port, cb_id, status=False) as box:
            await box.call(call.Heartbeat())
        return True
    except (TimeoutError, OSError, InvalidStatus, websockets.InvalidHandshake):
        return False
    except websockets.ConnectionClosed:
        return False


async def tls_works(port: int, cb_id: str, ctx: ssl.SSLContext, **kw: object) -> bool:
    try:
        async with connect(port, cb_id, scheme="wss", ssl_context=ctx, status=False, **kw) as box:
            await box.call(call.Heartbeat())
        return True
    except (TimeoutError, OSError, InvalidStatus, websockets.InvalidHandshake):
        return False


async def test_tls_off_on_detect(tmp_path: Path) -> None:
    async with running_server(tmp_path, tls="off") as (server, _):
        ctx = client_ctx(server.certificate_pem())
        assert await plain_works(server.port, "P1")
        assert not await tls_works(server.port, "T1", ctx)
        await server.apply_settings(OcppSettings(host="127.0.0.1", port=server.port, tls="on"))
        assert await tls_works(server.port, "T1", ctx)
        assert not await plain_works(server.port, "P1")
        await server.apply_settings(OcppSettings(host="127.0.0.1", port=server.port, tls="detect"))
        results = await asyncio.gather(
            *(
                tls_works(server.port, f"T{i}", ctx) if i % 2 else plain_works(server.port, f"P{i}")
                for i in range(12)
            )
        )
        assert all(results)
        protos = {cp["id"]: cp["connected"] for cp in server.charge_points()}
        assert {"T1", "P2"} <= set(protos)


async def test_detect_drops_silent_and_garbage_clients(tmp_path: Path) -> None:
    async with running_server(tmp_path, tls="detect") as (server, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x16\x03\x01garbage-that-is-no-tls-handshake" * 4)
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.read() == b""
        writer.close()
        # a client that connected but never spoke is aborted at shutdown
        _, idle = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.sleep(0.05)
        await server.stop()
        idle.close()


async def test_ocpp_rsa_gcm_cipher_and_tls12_minimum(tmp_path: Path) -> None:
    async with running_server(tmp_path, tls="on") as (server, _):
        ctx = client_ctx(server.certificate_pem())
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("AES128-GCM-SHA256")  # TLS_RSA_WITH_AES_128_GCM_SHA256
        assert await tls_works(server.port, "RSA", ctx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = client_ctx(server.certificate_pem())
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
            old.set_ciphers("ALL:@SECLEVEL=0")
        assert not await tls_works(server.port, "OLD", old)


def make_cert(cn: str, issuer_key=None, issuer_name=None, ca: bool = False):  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert_pem, key_pem, key, name


async def test_import_certificate(tmp_path: Path) -> None:
    async with running_server(tmp_path, tls="on") as (server, _):
        ca_pem, _, ca_key, ca_name = make_cert("Test CA", ca=True)
        cert_pem, key_pem, _, _ = make_cert("127.0.0.1", ca_key, ca_name)
        other_cert, _, _, _ = make_cert("other")
        with pytest.raises(ValueError, match="not a PEM certificate"):
            server.import_certificate("junk", key_pem)
        with pytest.raises(ValueError, match="not a PEM private key"):
            server.import_certificate(cert_pem, "junk")
        with pytest.raises(ValueError, match="does not belong"):
            server.import_certificate(other_cert, key_pem)
        old_ctx = client_ctx(server.certificate_pem())
        server.import_certificate(cert_pem + ca_pem, key_pem)
        assert server.certificate_pem().startswith(cert_pem.strip())
        assert await tls_works(server.port, "NEW", client_ctx(ca_pem))
        assert not await tls_works(server.port, "OLD", old_ctx)
    # the imported certificate survives a restart
    async with running_server(tmp_path, tls="on") as (server, _):
        assert await tls_works(server.port, "NEW", client_ctx(ca_pem))


async def test_client_certificate_profile_3(tmp_path: Path) -> None:
    ca_pem, _, ca_key, ca_name = make_cert("Box CA", ca=True)
    box_cert, box_key, _, _ = make_cert("BOX3", ca_key, ca_name)
    settings = {"tls": "on", "ca_pem": ca_pem, "password": PASSWORD}
    async with running_server(tmp_path, **settings) as (server, _):
        ctx = client_ctx(server.certificate_pem())
        assert not await tls_works(server.port, "BOX3", ctx)  # no cert, no password: 401
        assert await tls_works(server.port, "BOX3", ctx, headers=basic("BOX3", PASSWORD))
        certfile, keyfile = tmp_path / "box.crt", tmp_path / "box.key"
        certfile.write_text(box_cert)
        keyfile.write_text(box_key)
        ctx.load_cert_chain(certfile, keyfile)
        assert await tls_works(server.port, "BOX3", ctx)


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="tls"):
        OcppSettings(tls="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        OcppSettings(port=70000)
    with pytest.raises(ValueError, match="ca_pem"):
        OcppSettings(ca_pem="nope")
    assert OcppSettings(password="").password is None

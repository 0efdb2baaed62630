"""The MQTT bridge in process, speaking MQTT 3.1.1 (the process test speaks 5), and its
settings: an empty host turns it off, a new base topic reconnects."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from mosquitto import Broker
from mqtt_site import start, use_broker
from ports import free_port

from manager.app import Manager
from manager.mqtt import PROTOCOLS


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Manager, Broker]]:
    broker = Broker(tmp_path)
    manager = await start(tmp_path / "data", 2, free_port())
    try:
        yield manager, broker
    finally:
        await manager.close()
        broker.stop()


async def _first(client: aiomqtt.Client, topic: str, manager: Manager, timeout_s: float = 10):
    """The next message on `topic`, cycling the manager meanwhile (bounded in time)."""
    async with asyncio.timeout(timeout_s):
        while True:
            await manager.control.cycle()
            try:
                async with asyncio.timeout(0.3):
                    async for msg in client.messages:
                        if str(msg.topic) == topic:
                            return msg
            except TimeoutError:
                continue


async def test_bridge_speaks_mqtt_311_and_follows_its_settings(
    site: tuple[Manager, Broker],
) -> None:
    manager, broker = site
    assert manager.mqtt is not None
    manager.mqtt.protocol = PROTOCOLS["3.1.1"]
    await use_broker(manager, broker.port, "one")
    v311 = PROTOCOLS["3.1.1"]
    async with aiomqtt.Client("127.0.0.1", broker.port, protocol=v311) as client:
        await client.subscribe("one/#")
        await client.subscribe("two/#")
        msg = await _first(client, "one/wallbox/box0/state", manager)
        assert json.loads(msg.payload)["id"] == "box0"
        assert manager.mqtt.connected

        await manager.service.update_settings({"mqtt": {"base_topic": "two"}})
        assert (await _first(client, "one/status", manager)).payload == b"offline"
        msg = await _first(client, "two/site/state", manager)
        assert "surplus_w" in json.loads(msg.payload)

        await manager.service.update_settings({"mqtt": {"host": ""}})
        assert (await _first(client, "two/status", manager)).payload == b"offline"
        for _ in range(5):
            await manager.control.cycle()
            await asyncio.sleep(0.05)
        assert not manager.mqtt.connected


def _pki(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


async def test_tls_and_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca, cert, key = _pki(tmp_path)
    passwd = tmp_path / "passwd"
    made = await asyncio.create_subprocess_exec(
        "mosquitto_passwd", "-b", "-c", str(passwd), "ampshare", "right-pw"
    )
    assert await asyncio.wait_for(made.wait(), 30) == 0
    broker = Broker(
        tmp_path,
        f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\npassword_file {passwd}\n",
    )
    # the bridge verifies the broker against the system's CAs; here the test CA is the system's
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    manager = await start(tmp_path / "data", 1, free_port())
    try:
        mqtt = {"host": "127.0.0.1", "port": broker.port, "tls": True, "username": "ampshare"}
        await manager.service.update_settings({"mqtt": {**mqtt, "password": "wrong"}})
        for _ in range(20):
            await manager.control.cycle()
            await asyncio.sleep(0.1)
        assert manager.mqtt is not None and not manager.mqtt.connected
        refused = [e for e in manager.events.recent() if e["kind"] == "mqtt"]
        assert len(refused) == 1  # said once, not at every retry

        await manager.service.update_settings({"mqtt": {"password": "right-pw"}})
        context = ssl.create_default_context(cafile=str(ca))
        async with aiomqtt.Client(
            "127.0.0.1",
            broker.port,
            username="ampshare",
            password="right-pw",
            tls_context=context,
        ) as client:
            await client.subscribe("ampshare/wallbox/box0/state")
            msg = await _first(client, "ampshare/wallbox/box0/state", manager)
            assert json.loads(msg.payload)["id"] == "box0"
        assert manager.mqtt.connected
    finally:
        await manager.close()
        broker.stop()

"""Server certificate (self-signed on first start, or imported) and the TLS contexts.

OCPP (A00.FR.317) requires TLS 1.2+ with TLS_ECDHE_ECDSA_WITH_AES_128/256_GCM and
TLS_RSA_WITH_AES_128/256_GCM; Python's default cipher list leaves the RSA ones out, so the list
is set explicitly. Detect mode (plain and TLS on one port) peeks at the first byte of each
connection: 0x16 starts a TLS handshake, anything else is plain HTTP.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import ssl
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from websockets.asyncio.server import ServerConnection

from manager.files import atomic_write

log = logging.getLogger(__name__)

OCPP_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    )
)
TLS_HANDSHAKE = 0x16
DETECT_TIMEOUT_S = 10.0


def self_signed(
    key: CertificateIssuerPrivateKeyTypes,
    name: x509.Name,
    backdate: timedelta,
    valid: timedelta,
    *extensions: tuple[x509.ExtensionType, bool],
) -> x509.Certificate:
    """A self-signed certificate (the server's own, or the charge point CA's)."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - backdate)
        .not_valid_after(now + valid)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())


def store_pair(
    key_path: Path, cert_path: Path, key: CertificateIssuerPrivateKeyTypes, cert: x509.Certificate
) -> None:
    """Key (0600, PKCS#8) and certificate (0644) as PEM, each written atomically."""
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    atomic_write(key_path, key_pem, 0o600)
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


class CertificateStore:
    """server.crt / server.key in the data directory."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.cert_path = self.folder / "server.crt"
        self.key_path = self.folder / "server.key"

    def ensure(self) -> None:
        """Generate a self-signed certificate unless one is there."""
        if self.cert_path.exists() and self.key_path.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        host = socket.gethostname() or "ampshare"
        sans: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName("localhost")]
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = self_signed(
            key,
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]),
            timedelta(days=1),
            timedelta(days=3650),
            (x509.SubjectAlternativeName(sans), False),
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        )
        store_pair(self.key_path, self.cert_path, key, cert)
        log.info("generated a self-signed OCPP server certificate for %s", host)

    def certificate_pem(self) -> str:
        self.ensure()
        return self.cert_path.read_text(encoding="ascii")

    def import_pem(self, cert_pem: str, key_pem: str) -> None:
        """Check a certificate (chain) and its key, then store them. Raises ValueError."""
        check_certificate(cert_pem, key_pem)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.key_path, key_pem.strip().encode() + b"\n", 0o600)
        atomic_write(self.cert_path, cert_pem.strip().encode() + b"\n", 0o644)
        log.info("imported an OCPP server certificate")

    def server_context(self, ca_pem: str | None) -> ssl.SSLContext:
        """TLS 1.2+, OCPP ciphers; with a CA, client certificates are asked for and checked."""
        self.ensure()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(OCPP_CIPHERS)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        if ca_pem:
            ctx.load_verify_locations(cadata=ca_pem)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx

    def reload(self, ctx: ssl.SSLContext) -> None:
        """New handshakes use the current files; running connections are not touched."""
        ctx.load_cert_chain(self.cert_path, self.key_path)


def certificate_names_box(peercert: dict[str, Any], cb_id: str) -> bool:
    """Security profile 3: the client certificate's CN (or subject serial number) must be the
    ChargeBox ID, so one box's certificate cannot log in as another box."""
    names = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key in ("commonName", "serialNumber"):
                names.append(str(value))
    return cb_id in names


def check_ca_pem(ca_pem: str) -> None:
    """Raise ValueError unless the text holds at least one PEM certificate usable as a CA."""
    try:
        certs = x509.load_pem_x509_certificates(ca_pem.encode("utf-8"))
    except (ValueError, UnicodeError):
        raise ValueError("not a PEM certificate") from None
    if not certs:
        raise ValueError("not a PEM certificate")
    try:
        ssl.create_default_context(cadata=ca_pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"not usable as a CA ({exc})") from None


def check_certificate(cert_pem: str, key_pem: str) -> None:
    """Raise ValueError with a clear message unless cert and key are a usable pair."""
    try:
        certs = x509.load_pem_x509_certificates(cert_pem.encode())
    except ValueError:
        raise ValueError("certificate: not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except TypeError:
        raise ValueError("key: password-protected keys are not supported") from None
    except ValueError:
        raise ValueError("key: not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("key: only RSA and EC keys are supported")
    leaf = certs[0]
    pub = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*pub) != key.public_key().public_bytes(*pub):
        raise ValueError("key: does not belong to the (first) certificate")
    now = datetime.now(UTC)
    if leaf.not_valid_after_utc < now:
        raise ValueError(f"certificate: expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    if leaf.not_valid_before_utc > now + timedelta(days=1):
        raise ValueError(f"certificate: not valid before {leaf.not_valid_before_utc:%Y-%m-%d}")
    with tempfile.TemporaryDirectory() as tmp:
        c, k = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
        c.write_text(cert_pem)
        k.write_text(key_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(c, k)
        except ssl.SSLError as exc:
            raise ValueError(f"certificate: TLS library refused it ({exc.reason})") from None


def _keep_paused(transport: asyncio.Transport) -> None:
    """Undo the reader that Python 3.11.2 (Debian 12) adds after connection_made.

    There the transport registers its reader one step after connection_made even when the
    protocol paused reading in it, and would consume the first bytes that detection peeks at.
    Resume-then-pause is a no-op on fixed Pythons and removes (and cancels) that reader here.
    """
    if not transport.is_closing() and not transport.is_reading():
        transport.resume_reading()
        transport.pause_reading()


async def _peek_first(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    """The client's first byte, left in the socket for whoever reads next."""
    peer = socket.socket(fileno=os.dup(sock.fileno()))
    try:
        readable = loop.create_future()
        loop.add_reader(peer.fileno(), lambda: readable.done() or readable.set_result(None))
        try:
            await readable
        finally:
            loop.remove_reader(peer.fileno())
        return peer.recv(1, socket.MSG_PEEK)
    finally:
        peer.close()


class DetectingConnection(ServerConnection):
    """A websockets connection that decides plain or TLS by the first byte the client sends.

    Reading is paused in connection_made; once the socket is readable the first byte is
    peeked (not consumed) on a duplicate of the socket. TLS: the transport is upgraded with
    loop.start_tls; plain: reading resumes. Only then does websockets see the connection.
    """

    def __init__(
        self,
        *args: Any,
        tls_context: Callable[[], ssl.SSLContext | None],
        tracker: set[DetectingConnection],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._tls_context = tls_context
        self._tracker = tracker
        self._raw: asyncio.Transport | None = None
        self._detecting: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._raw = transport
        transport.pause_reading()
        loop = asyncio.get_running_loop()
        loop.call_soon(_keep_paused, transport)
        self._tracker.add(self)
        self._detecting = loop.create_task(self._detect(transport))

    async def _detect(self, transport: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(DETECT_TIMEOUT_S):
                first = await _peek_first(loop, transport.get_extra_info("socket"))
            if not first:
                transport.abort()
                return
            if first[0] == TLS_HANDSHAKE:
                ctx = self._tls_context()
                if ctx is None:
                    transport.abort()
                    return
                tls = await loop.start_tls(
                    transport, self, ctx, server_side=True, ssl_handshake_timeout=DETECT_TIMEOUT_S
                )
                if tls is None:
                    transport.abort()
                    return
                self._detecting = None
                self._tracker.discard(self)
                super().connection_made(tls)
            else:
                self._detecting = None
                self._tracker.discard(self)
                super().connection_made(transport)
                transport.resume_reading()
        except asyncio.CancelledError:
            transport.abort()
            raise
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            log.debug("connection dropped while detecting TLS: %s", exc)
            transport.abort()
        finally:
            self._tracker.discard(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._detecting is not None or not hasattr(self, "transport"):
            if self._detecting is not None and not self._detecting.done():
                self._detecting.cancel()
            self._detecting = None
            self._tracker.discard(self)
            return
        super().connection_lost(exc)

    def abort_detection(self) -> None:
        if self._raw is not None and self._detecting is not None:
            self._detecting.cancel()
            self._raw.abort()

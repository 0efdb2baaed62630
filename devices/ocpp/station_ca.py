"""ampshare's own small certificate authority for charge points (security profile 3).

A box sends a CSR (SignCertificate); the CA signs it when the CSR names the box's own ChargeBox
ID as its common name, and ampshare sends the chain back (CertificateSigned). With the CA in
the server's trust store the box then authenticates by certificate alone, without any outside
PKI. The CA key is created on first use and kept in the data directory (mode 0600).
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devices.ocpp.tls import self_signed, store_pair

CA_YEARS = 20
CERT_DAYS = 2 * 365
MAX_CSR = 10_000


class LocalCA:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.cert_path = self.folder / "ca.crt"
        self.key_path = self.folder / "ca.key"
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Create the CA on first use (idempotent)."""
        with self._lock:
            if self.cert_path.exists() and self.key_path.exists():
                return
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "ampshare local CA"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ampshare"),
                ]
            )
            cert = self_signed(
                key,
                name,
                timedelta(minutes=5),
                timedelta(days=365 * CA_YEARS),
                (x509.BasicConstraints(ca=True, path_length=0), True),
                (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
            )
            store_pair(self.key_path, self.cert_path, key, cert)

    def certificate_pem(self) -> str:
        self.ensure()
        return self.cert_path.read_text(encoding="ascii")

    def sign(self, cb_id: str, csr_pem: str) -> str:
        """The signed certificate plus the CA (PEM chain); ValueError says why not."""
        if not csr_pem or len(csr_pem) > MAX_CSR:
            raise ValueError("no certificate request, or one that is too long")
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise ValueError("the certificate request is not PEM") from None
        if not csr.is_signature_valid:
            raise ValueError("the certificate request's signature is wrong")
        names = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if names != [cb_id]:
            raise ValueError(f"the request's common name must be the ChargeBox ID {cb_id!r}")
        self.ensure()
        ca_cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        ca_key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca_cert.subject)
            .public_key(csr.public_key())
            .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return pem + ca_cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

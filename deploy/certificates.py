"""A throw-away certificate authority and a server certificate for local TLS (the secure broker
of deploy/secure_broker.py, a Redis with ``tls``), made with the ``openssl`` command."""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.processes import LOCALHOST

#: Short-lived on purpose: these certificates are for one test session or one local stack.
DAYS = 7


@dataclass(frozen=True)
class Certificates:
    """What a TLS server and its clients need, as files in one folder."""

    #: The CA's certificate (PEM): what clients trust (KAFKA_SSL_CAFILE, REDIS_SSL_CA_CERTS).
    ca: Path
    #: The server's certificate (PEM), signed by the CA, for each host given (IPs and names).
    cert: Path
    #: Its private key (PEM, not encrypted).
    key: Path
    #: The key with the certificate chain as a PKCS12 keystore, for Java (Kafka).
    keystore: Path
    #: The keystore's password (and its key's).
    password: str


def make_certificates(
    directory: Path, hosts: Sequence[str] = (LOCALHOST, "localhost")
) -> Certificates:
    """A new CA and a server certificate for ``hosts``, written into ``directory``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl not found: install it (apt-get install openssl)")
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, request = (
        directory / "server.pem",
        directory / "server.key",
        directory / "server.csr",
    )
    keystore, password = directory / "server.p12", secrets.token_urlsafe(16)
    names = ",".join(f"IP:{h}" if _is_ip(h) else f"DNS:{h}" for h in hosts)
    extensions = directory / "server.ext"
    extensions.write_text(
        f"subjectAltName={names}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"]

    def run(*args: str) -> None:
        result = subprocess.run([openssl, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed:\n{result.stdout}{result.stderr}")

    run(
        "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", str(DAYS),
        "-subj", "/CN=qcexec local CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run("req", *ec, "-keyout", str(key), "-out", str(request), "-subj", f"/CN={hosts[0]}")
    run(
        "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", str(DAYS), "-extfile", str(extensions),
    )  # fmt: skip
    run(
        "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-certfile", str(ca),
        "-name", "server", "-out", str(keystore), "-passout", f"pass:{password}",
    )  # fmt: skip
    return Certificates(ca=ca, cert=cert, key=key, keystore=keystore, password=password)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True

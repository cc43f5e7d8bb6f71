"""An OpenID-style token issuer for the e2e suite: RS256 keys, their JWKS over HTTPS, signed tokens.

istiod fetches a RequestAuthentication's ``jwksUri`` itself and inlines the keys into the Envoy
configuration it sends (``PILOT_JWT_ENABLE_REMOTE_JWKS`` left at its default, ``istiod``), with Go's
system certificate pool plus ``/cacerts/extra.pem``. The JWKS is served on 127.0.0.1 with a
certificate of a CA made here; istiod trusts that CA through ``SSL_CERT_FILE`` in its own
environment (Go reads the system pool from it), nothing else on the machine does.

Tokens are signed here with ``cryptography`` (RSASSA-PKCS1-v1_5 with SHA-256, JWS compact form), so
no JWT library is needed.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class SigningKey:
    kid: str
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": _int(numbers.n), "e": _int(numbers.e)}

    def token(
        self,
        issuer: str,
        audience: str,
        subject: str = "e2e-client",
        lifetime_seconds: int = 3600,
        issued_seconds_ago: int = 0,
    ) -> str:
        now = int(time.time()) - issued_seconds_ago
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime_seconds}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


def _certificate(
    subject: str, key: rsa.RSAPrivateKey, issuer_name: x509.Name, issuer_key: rsa.RSAPrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        import ipaddress

        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


class JwksServer:
    """The issuer's JWKS at ``https://127.0.0.1:<port>/jwks.json``; ``ca_file`` is what istiod must trust."""

    def __init__(self, workdir: Path, keys: list[SigningKey]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "triton-e2e-jwks-ca")])
        ca = _certificate("triton-e2e-jwks-ca", ca_key, ca_name, ca_key, ca=True)
        server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        server = _certificate(LOOPBACK, server_key, ca_name, ca_key, ca=False)
        self.ca_file = workdir / "jwks-ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (workdir / "jwks-server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
        (workdir / "jwks-server-key.pem").write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        body = json.dumps({"keys": [k.jwk() for k in keys]}).encode()
        self.fetches = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                owner.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(workdir / "jwks-server.pem", workdir / "jwks-server-key.pem")
        self.httpd = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://{LOOPBACK}:{self.httpd.server_address[1]}/jwks.json"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="jwks"
        )
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)

"""The tests' certificate helper (``support.certs``) makes what the e2e suite relies on: a CA, a
certificate it issues that a TLS client verifying against that CA (and only that CA) accepts for
127.0.0.1, a self-signed stand-in and a signing key pair."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support import certs


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _public_pem(key_file: Path) -> bytes:
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _handshake(server_cert: Path, server_key: Path, trusted_ca: Path) -> None:
    """One TLS handshake on 127.0.0.1: the server presents ``server_cert``, the client trusts ``trusted_ca``."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(server_cert, server_key)
    client_context = ssl.create_default_context(cafile=str(trusted_ca))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)
        port = listener.getsockname()[1]

        def serve() -> None:
            try:
                connection, _ = listener.accept()
                with server_context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client's verdict is what the test reads

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
                client_context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                pass
        finally:
            thread.join(timeout=30)


def test_an_issued_certificate_is_accepted_for_its_san_against_its_ca_only(tmp_path: Path) -> None:
    ca_key, ca_cert = tmp_path / "ca.key", tmp_path / "ca.crt"
    certs.authority(ca_key, ca_cert, "/CN=test-ca")
    server_key, server_cert = tmp_path / "server.key", tmp_path / "server.crt"
    certs.issue(
        server_key,
        server_cert,
        "/CN=server",
        ca_key=ca_key,
        ca_cert=ca_cert,
        extensions="basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    _handshake(server_cert, server_key, trusted_ca=ca_cert)

    other_key, other_ca = tmp_path / "other.key", tmp_path / "other.crt"
    certs.authority(other_key, other_ca, "/CN=other-ca")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server_cert, server_key, trusted_ca=other_ca)


def test_the_authority_is_a_ca_and_the_issued_certificate_carries_the_extensions_asked_for(tmp_path: Path) -> None:
    ca_key, ca_cert = tmp_path / "ca.key", tmp_path / "ca.crt"
    certs.authority(ca_key, ca_cert, "/O=Org/CN=test-ca")
    ca = _cert(ca_cert)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign

    client = _cert(
        certs.issue(
            tmp_path / "client.key",
            tmp_path / "client.crt",
            "/CN=front-proxy-client",
            ca_key=ca_key,
            ca_cert=ca_cert,
            extensions="keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
        )
    )
    assert client.issuer == ca.subject
    assert client.subject.rfc4514_string() == "CN=front-proxy-client"
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    assert _public_pem(tmp_path / "client.key") == client.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_a_self_signed_certificate_is_its_own_issuer_for_its_key(tmp_path: Path) -> None:
    key, cert_file = tmp_path / "tls.key", tmp_path / "tls.crt"
    cert = _cert(certs.self_signed(key, cert_file, "/CN=triton.example.com"))
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == "CN=triton.example.com"
    assert _public_pem(key) == cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_the_key_pair_files_hold_one_key(tmp_path: Path) -> None:
    certs.rsa_key_pair(tmp_path / "sa.key", tmp_path / "sa.pub")
    assert (tmp_path / "sa.pub").read_bytes() == _public_pem(tmp_path / "sa.key")

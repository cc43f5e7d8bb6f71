"""Keys and certificates the tests make for themselves, with the ``openssl`` command line.

One place for the flags: a self-signed certificate (a stand-in for one a user provides), a CA, a
certificate that CA issues with the extensions a caller needs (SANs, key and extended key usage),
and an RSA key pair. Keys are 2048-bit RSA, unencrypted; validities are in days and short, since
each test makes its own.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

#: A CA's extensions, as kubeadm and KEDA's cert rotation mark their CAs.
CA_EXTENSIONS = ("basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign")


def openssl(*args: str) -> None:
    """Run ``openssl`` with ``args``; its output is shown only if it fails."""
    binary = shutil.which("openssl")
    if binary is None:
        raise AssertionError("`openssl` is not on PATH; install it with: sudo apt-get install -y openssl")
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} exited with {result.returncode}:\n{result.stderr}")


def self_signed(key: Path, cert: Path, subject: str, days: int = 1, extensions: tuple[str, ...] = ()) -> Path:
    """A new key (``key``) and a certificate it signs itself for ``subject`` (``/CN=...``); returns ``cert``."""
    added = [arg for extension in extensions for arg in ("-addext", extension)]
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        str(days),
        "-subj",
        subject,
        "-keyout",
        str(key),
        "-out",
        str(cert),
        *added,
    )
    return cert


def authority(key: Path, cert: Path, subject: str, days: int = 2) -> Path:
    """A self-signed CA (``CA_EXTENSIONS``) for ``subject``; returns ``cert``."""
    return self_signed(key, cert, subject, days, CA_EXTENSIONS)


def issue(key: Path, cert: Path, subject: str, *, ca_key: Path, ca_cert: Path, extensions: str, days: int = 2) -> Path:
    """A new key and a certificate for ``subject`` signed by the CA, with ``extensions`` (an openssl
    extension file's lines). The request and the extension file are kept beside ``cert`` (``.csr``,
    ``.ext``). Returns ``cert``."""
    request, extension_file = cert.with_suffix(".csr"), cert.with_suffix(".ext")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key), "-out", str(request))
    extension_file.write_text(extensions)
    openssl(
        "x509",
        "-req",
        "-days",
        str(days),
        "-in",
        str(request),
        "-CA",
        str(ca_cert),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-extfile",
        str(extension_file),
        "-out",
        str(cert),
    )
    return cert


def rsa_key_pair(private: Path, public: Path) -> None:
    """An RSA private key and its public key, both PEM (a signing pair, no certificate)."""
    openssl("genrsa", "-out", str(private), "2048")
    openssl("rsa", "-in", str(private), "-pubout", "-out", str(public))

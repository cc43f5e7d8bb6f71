"""A credentials file shaped exactly like the rendered key Secret is what
lets Triton read the emulated bucket, and a wrong one makes the server fail to start (``--exit-on-error``).

Key mode is rendered from a committed stack of each cloud with only ``identity: key`` changed (the
committed stacks use keyless identity except dev). The render runs with secret redaction off, so
the Secret's content is the component's own template filled with the mocks' values; the lab
replaces only the mock key with a key its emulator knows.

- AWS: moto authenticates every request (``reset-auth``) and authorizes it against the rendered IAM
  user policy; the credentials file reaches Triton only through the rendered
  ``AWS_SHARED_CREDENTIALS_FILE`` and Secret volume.
- GCP: fake-gcs-server checks no credentials, but Triton's GCS client signs a JWT with the key file's
  private key and exchanges it at the key's ``token_uri``; the lab's token endpoint verifies the
  signature against the registered key (``support.lab.emulators.GoogleTokenServer``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support.lab.emulators import Storage
from support.lab.load import infer_http
from support.lab.renders import RenderedTriton, first_stack_with, triton_deployments, variant_render
from support.lab.triton import TritonInstall, start_rendered, write_model_repository
from triton_platform.review import render as render_module
from triton_platform.review.render import StackRender


@contextlib.contextmanager
def _secrets_revealed() -> Iterator[None]:
    """Render with secret values kept (the mocks' values): the lab needs the Secret's content shape."""
    original = render_module._redact
    render_module._redact = lambda value: value
    try:
        yield
    finally:
        render_module._redact = original


def key_mode_render(cloud: str, where: Path) -> StackRender:
    """The first committed stack of ``cloud`` with ``identity: key``, rendered with secrets revealed."""

    def key_mode(config: dict[str, Any]) -> None:
        config[f"triton-platform:{cloud}"]["identity"] = "key"

    with _secrets_revealed():
        return variant_render(first_stack_with(cloud), key_mode, "key", where)


def credentials_secret(rt: RenderedTriton, env_var: str) -> tuple[str, str, str]:
    """(Secret, key, container path) behind the credentials env var, traced through the volume mount."""
    path = next(e["value"] for e in rt.container["env"] if e["name"] == env_var)
    volumes = {v["name"]: v for v in rt.pod_spec["volumes"]}
    for mount in rt.container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume and path.startswith(mount["mountPath"].rstrip("/") + "/"):
            relative = path[len(mount["mountPath"].rstrip("/")) + 1 :]
            item = next(i for i in volume["secret"]["items"] if i["path"] == relative)
            return volume["secret"]["secretName"], item["key"], path
    raise AssertionError(f"{env_var}={path} is not inside a mounted Secret volume")


def secret_content(render: StackRender, namespace: str, name: str, key: str) -> str:
    secret = next(
        m
        for m in render.manifests
        if m["kind"] == "Secret" and m["metadata"]["name"] == name and m["metadata"]["namespace"] == namespace
    )
    return secret["stringData"][key]


def one_input(render: StackRender, type_: str) -> dict[str, Any]:
    found = render.find(type_)
    assert len(found) == 1, f"expected one {type_}, found {[r['name'] for r in found]}"
    return found[0]


def test_aws_key_mode(tmp_path: Path, triton_install: TritonInstall) -> None:
    render = key_mode_render("aws", tmp_path / "roots")
    rt = triton_deployments(render)[0]
    secret, key, container_path = credentials_secret(rt, "AWS_SHARED_CREDENTIALS_FILE")
    content = secret_content(render, rt.namespace, secret, key)
    access_key = one_input(render, "aws:iam/accessKey:AccessKey")
    # What RenderMocks answers for an AccessKey: id "<name>-id", secret "mock-secret-access-key".
    mock_id, mock_secret = f"{access_key['name']}-id", "mock-secret-access-key"
    assert mock_id in content and mock_secret in content, (
        f"the credentials file does not hold the access key: {content!r}"
    )
    policy = one_input(render, "aws:iam/userPolicy:UserPolicy")["inputs"]
    user = policy["user"]

    storage = Storage(tmp_path / "storage")
    try:
        s3 = storage.s3
        repository = write_model_repository(tmp_path / "repository", rt.models or ["standin"])
        storage.publish(rt.model_repository, repository)
        key_id, key_secret = s3.create_user_key(user, policy["policy"])
        s3.enforce_auth()  # from here on: signatures checked, the rendered policy enforced
        good = content.replace(mock_id, key_id).replace(mock_secret, key_secret)

        common = {
            "storage": storage,
            "install": triton_install,
            "models": rt.models or ["standin"],
            "repository": repository,
        }
        run = start_rendered(rt, workdir=tmp_path / "good", secrets={(secret, key): good}, **common)
        try:
            assert "AWS_ACCESS_KEY_ID" not in run.launch.env and "AWS_SECRET_ACCESS_KEY" not in run.launch.env
            mounted = Path(run.launch.env["AWS_SHARED_CREDENTIALS_FILE"])
            assert mounted.read_text() == good and str(mounted).endswith(container_path.rsplit("/", 1)[-1])
            for model in run.models:
                assert infer_http(run.server.http, model) == 3.0
        finally:
            run.server.stop()

        wrong = content.replace(mock_id, key_id).replace(mock_secret, "0" * 40)
        bad = start_rendered(rt, workdir=tmp_path / "wrong", secrets={(secret, key): wrong}, wait=False, **common)
        try:
            code = bad.server.wait_exit(rt.startup_budget_seconds())
            log = bad.server.process.output()
            assert code != 0, log[-2000:]
            assert "error: creating server" in log and "Check account credentials" in log, log[-2000:]
            assert '" 403 -' in s3.process.output(), "moto did not refuse the wrong key"
        finally:
            bad.server.stop()
    finally:
        storage.stop()


def test_gcp_key_mode(tmp_path: Path, triton_install: TritonInstall) -> None:
    render = key_mode_render("gcp", tmp_path / "roots")
    rt = triton_deployments(render)[0]
    secret, key, container_path = credentials_secret(rt, "GOOGLE_APPLICATION_CREDENTIALS")
    # The key the Secret holds belongs to the account the rendered Key resource names.
    email = one_input(render, "gcp:serviceaccount/key:Key")["inputs"]["serviceAccountId"].rsplit("/", 1)[-1]

    storage = Storage(tmp_path / "storage")
    try:
        tokens = storage.gcs.tokens
        good = tokens.service_account_key(email)
        run = start_rendered(
            rt, storage=storage, workdir=tmp_path / "good", install=triton_install, secrets={(secret, key): good}
        )
        try:
            mounted = Path(run.launch.env["GOOGLE_APPLICATION_CREDENTIALS"])
            assert mounted.read_text() == good and str(mounted).endswith(container_path.rsplit("/", 1)[-1])
            assert [c["iss"] for c in tokens.granted] and {c["iss"] for c in tokens.granted} == {email}
            assert not tokens.refused
            for model in run.models:
                assert infer_http(run.server.http, model) == 3.0
        finally:
            run.server.stop()

        wrong = tokens.service_account_key(email, register=False)
        bad = start_rendered(
            rt,
            storage=storage,
            workdir=tmp_path / "wrong",
            install=triton_install,
            secrets={(secret, key): wrong},
            wait=False,
        )
        try:
            code = bad.server.wait_exit(rt.startup_budget_seconds())
            log = bad.server.process.output()
            assert code != 0, log[-2000:]
            assert "error: creating server" in log and "invalid_grant" in log, log[-2000:]
            assert tokens.refused, "the wrong key was never presented"
        finally:
            bad.server.stop()
    finally:
        storage.stop()

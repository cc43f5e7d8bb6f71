"""Compose one environment from validated settings: cloud layer (if any), then Triton."""

from __future__ import annotations

from typing import Any, cast

import pulumi

from triton_components import ModelGroupArgs, TritonServer, TritonServerArgs

from ..clouds import stack_cloud
from ..clouds.seam import CloudLayer
from ..config.serving import ModelGroupSettings
from ..config.settings import PlatformSettings
from .egress import build_egress
from .existing_cluster import existing_cluster_wiring
from .mesh import build_mesh, install_istio, mesh_group_args, mesh_server_args
from .observability import build_observability
from .prerequisites import cluster_checks


def model_group_args(
    group: ModelGroupSettings, settings: PlatformSettings, repository: pulumi.Input[str]
) -> ModelGroupArgs:
    args = cast(ModelGroupArgs, group.args_for(ModelGroupArgs, drop={"canary"}))
    # An autoscaled group leaves spec.replicas to KEDA so `pulumi up` never fights the HPA.
    if group.autoscaling is not None:
        args["replicas"] = None
    args.update(mesh_group_args(settings, group))  # type: ignore[typeddict-item]  # mesh keys of the group's args, as a plain dict
    if group.canary is not None:
        canary: dict[str, Any] = {"replicas": group.canary.replicas}
        if group.canary.image_tag:
            canary["image"] = f"{settings.triton.image_repository}:{group.canary.image_tag}"
        if group.canary.model_repository_path:
            canary["model_repository"] = pulumi.Output.concat(
                pulumi.Output.from_input(repository).apply(_repository_root), "/", group.canary.model_repository_path
            )
        args["canary"] = canary  # type: ignore[typeddict-item]  # built as a dict; its keys are CanaryArgs'
    return args


def _repository_root(url: str) -> str:
    """``gs://bucket/models`` -> ``gs://bucket``: canary paths are relative to the bucket."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.split('/', 1)[0]}" if sep else url.rstrip("/")


def _build_cloud(settings: PlatformSettings) -> CloudLayer | None:
    """The stack's cloud layer; each cloud's SDK is imported only by the stacks that use it."""
    found = stack_cloud(settings)
    return found[0].build_layer(settings, found[1]) if found is not None else None


def build_environment(
    settings: PlatformSettings,
    admin_api_key: pulumi.Input[str] | None = None,
    alert_receiver_secret: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """Declare every resource of the environment; return the stack outputs. The secrets are the
    stack's secret config keys (``SECRET_KEYS``), read by the program as Outputs."""
    outputs: dict[str, Any] = {"environment": settings.environment.value, "cloud": settings.cloud}
    server_args: dict[str, Any] = {}
    opts: pulumi.ResourceOptions | None = None
    repository: pulumi.Input[str]

    cloud = _build_cloud(settings)
    if cloud is not None:
        repository = cloud.model_repository
        server_args.update(cloud.triton_args)
        # Triton waits for its GPU pool and its identity, and lands on that cluster.
        opts = pulumi.ResourceOptions(providers=[cloud.kubernetes_provider], depends_on=cloud.depends_on)
        outputs.update(cloud.outputs)
    else:
        repository = settings.triton.model_repository or ""
        existing = settings.existing_cluster
        if existing is not None:
            server_args.update(existing_cluster_wiring(existing))
    # What the cluster runs of what this stack does not install (Istio's injector, KEDA), checked
    # before anything is declared in it.
    checks = cluster_checks(settings, cloud.kubernetes_provider if cloud is not None else None)
    if checks:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=checks))

    args = cast(
        TritonServerArgs,
        {
            # By name: namespace, digest, control mode, restricted APIs; the repository is the cloud's.
            **settings.triton.args_for(TritonServerArgs, drop={"model_repository"}),
            "model_repository": repository,
            "image": settings.triton.image,
            "model_groups": [model_group_args(g, settings, repository) for g in settings.model_groups],
            **server_args,  # the cloud's (or existing cluster's) keys of TritonServerArgs
            **mesh_server_args(settings),
        },
    )
    if admin_api_key is not None:
        args["admin_api_key"] = admin_api_key
    # Istio (if this stack installs it) first: Triton's pods need the sidecar injector, the
    # Istio custom resources need the CRDs.
    mesh_opts = install_istio(settings, opts)
    triton = TritonServer("triton", args, mesh_opts)
    # Default-deny egress for Triton's namespace; DNS, istiod, the identity's endpoints and public HTTPS.
    build_egress(settings, triton, cloud, opts)
    outputs.update(build_mesh(settings, triton, mesh_opts))
    outputs.update(build_observability(settings, triton, opts, alert_receiver_secret))
    outputs.update(
        {
            "modelRepository": repository,
            "tritonNamespace": triton.namespace,
            "tritonEndpoints": triton.endpoints,
        }
    )
    return outputs

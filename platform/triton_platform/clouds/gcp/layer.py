"""The GCP layer of an environment: cluster access, GPU pool, model bucket, reader identity.

Imported only when a stack has a ``triton-platform:gcp`` section, so no other stack loads
``pulumi_gcp``. Providers are created here (the composition layer), never inside components.
"""

from __future__ import annotations

from typing import cast

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from triton_components.gcp.gcp_model_reader_identity import GcpModelReaderIdentity
from triton_components.gcp.gcp_model_reader_identity_args import GcpModelReaderIdentityArgs
from triton_components.gcp.gcs_model_bucket import GcsModelBucket
from triton_components.gcp.gcs_model_bucket_args import GcsModelBucketArgs
from triton_components.gcp.gke_cluster import GkeCluster
from triton_components.gcp.gke_cluster_args import GkeClusterArgs
from triton_components.gcp.gke_gpu_node_pool import GkeGpuNodePool
from triton_components.gcp.gke_gpu_node_pool_args import GkeGpuNodePoolArgs
from triton_components.serving.triton_egress_policy_args import NODE_LOCAL_DNS_ADDRESS
from triton_components.serving.triton_server_args import DEFAULT_SERVICE_ACCOUNT

from ...config.base import Environment
from ...config.settings import PlatformSettings
from ..seam import CloudLayer, exec_kubeconfig, slug, triton_wiring, verified
from .preview import gke_cluster_problems
from .settings import GcpSettings

#: ``cluster.secretEncryption`` keys as ``GkeClusterArgs`` names them.
#: With Cloud DNS for GKE, pods' DNS queries go to the metadata server's address on port 53.
GKE_CLOUD_DNS_ADDRESS = "169.254.169.254/32"


def gke_kubeconfig(name: pulumi.Input[str], endpoint: pulumi.Input[str], ca: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.all(name, endpoint, ca).apply(
        lambda v: exec_kubeconfig(
            v[0],
            f"https://{v[1]}",
            v[2],
            "gke-gcloud-auth-plugin",
            [],
            "Install gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin).",
        )
    )


def _cluster_apis(config: GcpSettings, services: list[str], opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    """Project APIs a new cluster's settings need. Enabling is idempotent, and an API stays on when the
    stack goes: others may use it."""
    return [
        gcp.projects.Service(
            f"{service.split('.', 1)[0]}-api",
            project=config.project,
            service=service,
            disable_on_destroy=False,
            disable_dependent_services=False,
            opts=opts,
        )
        for service in services
    ]


def build_gcp(settings: PlatformSettings, config: GcpSettings) -> CloudLayer:
    stack = slug(pulumi.get_stack(), 20)
    provider = gcp.Provider("gcp", project=config.project, region=config.region)
    cloud_opts = pulumi.ResourceOptions(providers=[provider])
    prod = settings.environment is Environment.PROD

    cluster_name: pulumi.Input[str]
    if config.cluster.create:
        encryption = config.cluster.secret_encryption
        services = []
        if encryption.enabled and encryption.kms_key_name is None:
            # The key ring is created in this project; a key given by name lives where its owner keeps it.
            services.append("cloudkms.googleapis.com")
        if config.cluster.binary_authorization != "DISABLED":
            services.append("binaryauthorization.googleapis.com")
        apis = _cluster_apis(config, services, cloud_opts)
        cluster = GkeCluster(
            "cluster",
            cast(
                GkeClusterArgs,
                {
                    **config.cluster.cluster_args(),
                    "project": config.project,
                },
            ),
            pulumi.ResourceOptions(providers=[provider], protect=prod, depends_on=apis),
        )
        cluster_name = cluster.cluster_name
        endpoint, ca = cluster.endpoint, cluster.cluster_ca_certificate
    else:
        looked_up = gcp.container.get_cluster_output(
            name=config.cluster.name,
            location=config.cluster.location,
            project=config.project,
            opts=pulumi.InvokeOutputOptions(provider=provider),
        )
        # Workload Identity and NetworkPolicy enforcement, checked before anything uses the cluster:
        # the node pool and the Kubernetes provider read it through this Output.
        existing = looked_up.apply(lambda c: verified(c, gke_cluster_problems(c, settings, config), settings))
        cluster_name = existing.name
        endpoint = existing.endpoint
        ca = existing.master_auths.apply(lambda auths: auths[0].cluster_ca_certificate)

    kubernetes = k8s.Provider("kubernetes", kubeconfig=gke_kubeconfig(cluster_name, endpoint, ca))

    pool_settings = config.gpu_pool
    pool_opts = pulumi.ResourceOptions(providers=[provider])
    if pool_settings.image_streaming:
        # Image streaming (gcfs) needs the Container File System API; GKE refuses the pool without it.
        # Enabling is idempotent, and the API stays on when the stack goes: others may use it.
        api = gcp.projects.Service(
            "container-filesystem-api",
            project=config.project,
            service="containerfilesystem.googleapis.com",
            disable_on_destroy=False,
            disable_dependent_services=False,
            opts=cloud_opts,
        )
        pool_opts = pulumi.ResourceOptions(providers=[provider], depends_on=[api])
    pool = GkeGpuNodePool(
        "gpu-pool",
        cast(
            GkeGpuNodePoolArgs,
            {
                **pool_settings.pool_args(),
                "cluster": cluster_name,
                "location": config.cluster.location,
                "project": config.project,
                "pool_label": f"triton-{stack}-gpu",
                "protect": prod,
            },
        ),
        pool_opts,
    )

    bucket_settings = config.model_bucket
    # Models are data: protected everywhere unless a non-prod stack opts out by name.
    protect = bucket_settings.protect is not False or prod
    bucket = GcsModelBucket(
        "model-bucket",
        cast(
            GcsModelBucketArgs,
            {
                **bucket_settings.args_for(GcsModelBucketArgs, rename={"prefix": "name_prefix"}),
                "project": config.project,
                "protect": protect,
                "labels": {"environment": settings.environment.value, **bucket_settings.labels},
            },
        ),
        cloud_opts,
    )

    identity = GcpModelReaderIdentity(
        "model-reader",
        cast(
            GcpModelReaderIdentityArgs,
            {
                **config.args_for(GcpModelReaderIdentityArgs, rename={"identity": "mode"}),
                "account_id": f"triton-{stack}-reader"[:30].rstrip("-"),
                "bucket_name": bucket.bucket_name,
                "namespace": settings.triton.namespace,
                "service_account_name": DEFAULT_SERVICE_ACCOUNT,
            },
        ),
        cloud_opts,
    )

    return CloudLayer(
        model_repository=bucket.repository_url,
        kubernetes_provider=kubernetes,
        triton_args=triton_wiring(pool, identity),
        depends_on=[pool, identity],
        egress={
            "node_endpoints": identity.node_endpoints,
            # NodeLocal DNSCache, and Cloud DNS for GKE, which answers on the metadata address.
            "dns_cidrs": [NODE_LOCAL_DNS_ADDRESS, GKE_CLOUD_DNS_ADDRESS],
        },
        outputs={
            "clusterName": cluster_name,
            "nodePoolName": pool.node_pool_name,
            "modelBucketName": bucket.bucket_name,
            "modelBucketUrl": pulumi.Output.concat("gs://", bucket.bucket_name),
            "modelReaderServiceAccount": identity.email,
            "identityMode": config.identity,
        },
    )

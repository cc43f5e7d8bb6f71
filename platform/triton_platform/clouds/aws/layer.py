"""The AWS layer of an environment: EKS access, GPU node group, S3 model bucket, reader identity.

Imported only when a stack has a ``triton-platform:aws`` section, so no other stack loads
``pulumi_aws``. Providers are created here, never inside components.
"""

from __future__ import annotations

from typing import cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from triton_components.aws.aws_model_reader_identity import AwsModelReaderIdentity
from triton_components.aws.eks_gpu_node_group import EksGpuNodeGroup
from triton_components.aws.eks_gpu_node_group_args import EksGpuNodeGroupArgs
from triton_components.aws.s3_model_bucket import S3ModelBucket
from triton_components.aws.s3_model_bucket_args import S3ModelBucketArgs
from triton_components.serving.triton_server_args import DEFAULT_SERVICE_ACCOUNT

from ...config.base import Environment
from ...config.settings import PlatformSettings
from ..seam import CloudLayer, exec_kubeconfig, slug, triton_wiring, verified
from .preview import eks_network_policy_problems
from .settings import AwsSettings


def eks_kubeconfig(name: str, region: str, endpoint: pulumi.Input[str], ca: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.all(endpoint, ca).apply(
        lambda v: exec_kubeconfig(
            name,
            v[0],
            v[1],
            "aws",
            ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
            "Install the AWS CLI v2 (https://docs.aws.amazon.com/cli/).",
        )
    )


def build_aws(settings: PlatformSettings, config: AwsSettings) -> CloudLayer:
    stack = slug(pulumi.get_stack(), 20)
    prod = settings.environment is Environment.PROD
    provider = aws.Provider("aws", region=config.region)
    invoke = pulumi.InvokeOutputOptions(provider=provider)
    cloud_opts = pulumi.ResourceOptions(providers=[provider])

    cluster = aws.eks.get_cluster_output(name=config.cluster.name, opts=invoke)
    cluster_name: pulumi.Input[str] = config.cluster.name
    if config.cluster.network_policy == "vpc-cni-addon":
        # NetworkPolicy enforcement, checked before anything uses the cluster: the node group and
        # the Kubernetes provider take the cluster name through this Output.
        addon = aws.eks.get_addon_output(cluster_name=config.cluster.name, addon_name="vpc-cni", opts=invoke)
        cluster_name = addon.configuration_values.apply(
            lambda values: verified(
                config.cluster.name, eks_network_policy_problems(values, settings, config), settings
            )
        )
    issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
    oidc_provider = aws.iam.get_open_id_connect_provider_output(url=issuer, opts=invoke)
    kubernetes = k8s.Provider(
        "kubernetes",
        kubeconfig=pulumi.Output.all(
            cluster_name,
            eks_kubeconfig(
                config.cluster.name,
                config.region,
                cluster.endpoint,
                cluster.certificate_authorities.apply(lambda c: c[0].data),
            ),
        ).apply(lambda v: v[1]),
    )
    subnets: pulumi.Input[list[str]] = list(config.cluster.subnet_ids) or cluster.vpc_config.apply(
        lambda vpc: sorted(vpc.subnet_ids)
    )

    group_settings = config.gpu_node_group
    group = EksGpuNodeGroup(
        "gpu-node-group",
        cast(
            EksGpuNodeGroupArgs,
            {
                **group_settings.args_for(EksGpuNodeGroupArgs),
                "cluster_name": cluster_name,
                "subnet_ids": subnets,
                "group_label": f"triton-{stack}-gpu",
                "desired_nodes": group_settings.desired_nodes
                if group_settings.desired_nodes is not None
                else group_settings.min_nodes,
                "protect": prod,
            },
        ),
        pulumi.ResourceOptions(providers=[provider, kubernetes]),
    )

    bucket_settings = config.model_bucket
    bucket = S3ModelBucket(
        "model-bucket",
        cast(
            S3ModelBucketArgs,
            {
                **bucket_settings.args_for(S3ModelBucketArgs, rename={"prefix": "name_prefix"}),
                # Models are data: protected everywhere unless a non-prod stack opts out by name.
                "protect": bucket_settings.protect is not False or prod,
                "tags": {"environment": settings.environment.value, **bucket_settings.tags},
            },
        ),
        cloud_opts,
    )

    identity = AwsModelReaderIdentity(
        "model-reader",
        {
            "name": f"triton-{stack}-model-reader",
            "bucket_arn": bucket.bucket_arn,
            "namespace": settings.triton.namespace,
            "service_account_name": DEFAULT_SERVICE_ACCOUNT,
            "oidc_provider_arn": oidc_provider.arn,
            "oidc_issuer": issuer,
            "mode": config.identity,
            # SSE-KMS: S3 returns objects only to readers that may decrypt with the bucket's key.
            "kms_key_arn": bucket_settings.kms_key_arn,
        },
        cloud_opts,
    )

    # Triton's S3 client needs the bucket's region (triton-inference-server/server#8090).
    region_env = {"AWS_DEFAULT_REGION": config.region, "AWS_REGION": config.region}
    return CloudLayer(
        model_repository=bucket.repository_url,
        kubernetes_provider=kubernetes,
        triton_args=triton_wiring(group, identity, extra_env=region_env),
        depends_on=[group, identity],
        # Egress: IRSA exchanges its token with STS over HTTPS (the public-HTTPS rule) and needs no
        # metadata endpoint; IMDS stays unreachable for pods (hop limit 1, and no egress rule).
        egress={},
        outputs={
            "clusterName": config.cluster.name,
            "nodePoolName": group.node_group_name,
            "modelBucketName": bucket.bucket_name,
            "modelBucketUrl": pulumi.Output.concat("s3://", bucket.bucket_name),
            "modelReaderPrincipal": identity.principal_arn,
            "identityMode": config.identity,
        },
    )

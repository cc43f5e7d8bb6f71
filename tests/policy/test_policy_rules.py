"""The CrossGuard rules, called directly on resource types and props: compliant inputs pass,
each unsafe variant fails with a message naming the problem. No Pulumi CLI involved."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import triton_policy_rules as rules

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
GCS_BUCKET = "gcp:storage/bucket:Bucket"
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
PEER_AUTH = "kubernetes:security.istio.io/v1:PeerAuthentication"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
PROD = rules.Context(stack="prod")
DEV = rules.Context(stack="dev")


def triton_deployment() -> dict[str, Any]:
    """A compliant Triton Deployment, shaped like the render's."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "triton-default", "namespace": "triton"},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "tritonserver",
                            "image": "nvcr.io/nvidia/tritonserver:26.10-py3",
                            "resources": {
                                "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
                                "requests": {"cpu": "4", "memory": "16Gi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                                "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True,
                            },
                            "ports": [{"containerPort": 8000, "name": "http"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                }
            },
        },
    }


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def _mutated(mutate) -> dict[str, Any]:
    deployment = triton_deployment()
    mutate(deployment)
    return deployment


# --- GPU limits --------------------------------------------------------------------------------


def test_triton_deployment_with_gpu_limit_passes():
    assert rules.triton_gpu_limits(DEPLOYMENT, triton_deployment()) == []


def test_triton_deployment_with_a_mig_profile_limit_passes():
    def mig(d):
        limits = _container(d)["resources"]["limits"]
        del limits["nvidia.com/gpu"]
        limits["nvidia.com/mig-1g.10gb"] = 1

    assert rules.triton_gpu_limits(DEPLOYMENT, _mutated(mig)) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: _container(d)["resources"]["limits"].pop("nvidia.com/gpu"),
        lambda d: _container(d)["resources"]["limits"].update({"nvidia.com/gpu": "0"}),
        lambda d: _container(d).pop("resources"),
    ],
    ids=["no-gpu-key", "zero-gpus", "no-resources"],
)
def test_triton_deployment_without_gpu_limit_fails(mutate):
    (message,) = rules.triton_gpu_limits(DEPLOYMENT, _mutated(mutate))
    assert "without a GPU limit" in message and "containers/tritonserver" in message


def test_gpu_request_must_equal_the_limit():
    def request_two(d):
        _container(d)["resources"]["requests"]["nvidia.com/gpu"] = "2"

    (message,) = rules.triton_gpu_limits(DEPLOYMENT, _mutated(request_two))
    assert "differs from its limit" in message


def test_cpu_only_deployment_can_be_declared_and_other_workloads_are_ignored():
    no_gpu = _mutated(lambda d: _container(d)["resources"]["limits"].pop("nvidia.com/gpu"))
    assert (
        rules.triton_gpu_limits(DEPLOYMENT, no_gpu, rules.Context(cpu_only_deployments=frozenset({"triton-default"})))
        == []
    )
    other = _mutated(lambda d: _container(d).update(name="proxy", image="envoyproxy/envoy:v1.33"))
    other["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].pop("nvidia.com/gpu")
    assert rules.triton_gpu_limits(DEPLOYMENT, other) == []


# --- Restricted pod security -------------------------------------------------------------------


def test_restricted_pod_passes():
    assert rules.restricted_pod_security(DEPLOYMENT, triton_deployment()) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: (
                _container(d)["securityContext"].pop("runAsNonRoot"),
                _pod(d)["securityContext"].pop("runAsNonRoot"),
            ),
            "runAsNonRoot must be true",
        ),
        (lambda d: _container(d)["securityContext"].update(runAsUser=0), "runAsUser is 0"),
        (lambda d: _container(d)["securityContext"].update(allowPrivilegeEscalation=True), "allowPrivilegeEscalation"),
        (lambda d: _container(d)["securityContext"].pop("allowPrivilegeEscalation"), "allowPrivilegeEscalation"),
        (lambda d: _container(d)["securityContext"]["capabilities"].update(drop=["NET_RAW"]), "drop must contain ALL"),
        (lambda d: _container(d)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]), "capabilities.add"),
        (lambda d: _pod(d)["securityContext"].pop("seccompProfile"), "seccompProfile"),
        (lambda d: _container(d)["securityContext"].update(seccompProfile={"type": "Unconfined"}), "seccompProfile"),
        (lambda d: _container(d)["securityContext"].update(readOnlyRootFilesystem=False), "readOnlyRootFilesystem"),
        (lambda d: _container(d)["securityContext"].update(privileged=True), "privileged"),
        (lambda d: _pod(d).update(hostNetwork=True), "hostNetwork"),
        (lambda d: _pod(d)["volumes"].append({"name": "dev", "hostPath": {"path": "/dev"}}), "hostPath"),
        (lambda d: _container(d)["ports"][0].update(hostPort=8000), "hostPort"),
    ],
    ids=[
        "root-allowed",
        "uid-0",
        "privilege-escalation",
        "escalation-unset",
        "caps-not-dropped",
        "caps-added",
        "no-seccomp",
        "seccomp-unconfined",
        "writable-root",
        "privileged",
        "host-network",
        "host-path",
        "host-port",
    ],
)
def test_each_pod_security_gap_fails(mutate, expected):
    problems = rules.restricted_pod_security(DEPLOYMENT, _mutated(mutate))
    assert any(expected in p for p in problems), problems


def test_pod_security_covers_init_containers_and_other_workload_kinds():
    with_init = _mutated(lambda d: _pod(d).update(initContainers=[{"name": "fetch", "image": "busybox"}]))
    assert any(p.startswith("initContainers/fetch") for p in rules.restricted_pod_security(DEPLOYMENT, with_init))
    cron = {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}},
    }
    assert rules.restricted_pod_security("kubernetes:batch/v1:CronJob", cron)
    assert rules.restricted_pod_security("kubernetes:core/v1:Service", {"kind": "Service", "spec": {}}) == []


# --- Public buckets ----------------------------------------------------------------------------


def test_hardened_gcs_bucket_passes():
    bucket = {"name": "models", "publicAccessPrevention": "enforced", "uniformBucketLevelAccess": True}
    assert rules.no_public_bucket(GCS_BUCKET, bucket) == []


@pytest.mark.parametrize(
    "bucket",
    [
        {"uniformBucketLevelAccess": True},
        {"publicAccessPrevention": "inherited", "uniformBucketLevelAccess": True},
        {"publicAccessPrevention": "enforced", "uniformBucketLevelAccess": False},
    ],
    ids=["pap-unset", "pap-inherited", "no-ubla"],
)
def test_gcs_bucket_without_pap_or_ubla_fails(bucket):
    assert rules.no_public_bucket(GCS_BUCKET, bucket)


def test_gcs_grant_to_all_users_fails():
    grant = {"bucket": "models", "role": "roles/storage.objectViewer", "member": "allUsers"}
    assert rules.no_public_bucket("gcp:storage/bucketIAMMember:BucketIAMMember", grant)
    grant["member"] = "serviceAccount:reader@acme.iam.gserviceaccount.com"
    assert rules.no_public_bucket("gcp:storage/bucketIAMMember:BucketIAMMember", grant) == []


def test_s3_public_access_block_needs_all_four():
    block = {
        "bucket": "models",
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    pab = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    assert rules.no_public_bucket(pab, block) == []
    (message,) = rules.no_public_bucket(pab, {**block, "restrictPublicBuckets": False})
    assert "restrictPublicBuckets" in message


def test_s3_public_acl_and_public_bucket_policy_fail():
    assert rules.no_public_bucket("aws:s3/bucketAclV2:BucketAclV2", {"acl": "public-read"})
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::models/*"}
        ],
    }
    assert rules.no_public_bucket("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps(policy)})


# --- IAM ---------------------------------------------------------------------------------------


def test_gke_node_roles_may_be_granted_at_project_level():
    grant = {
        "project": "acme",
        "role": "roles/logging.logWriter",
        "member": "serviceAccount:nodes@acme.iam.gserviceaccount.com",
    }
    assert rules.no_wide_iam(PROJECT_IAM, grant) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "expected"),
    [
        (
            PROJECT_IAM,
            {"role": "roles/storage.admin", "member": "serviceAccount:x@acme.iam.gserviceaccount.com"},
            "project-wide grant of 'roles/storage.admin'",
        ),
        (
            "gcp:projects/iAMBinding:IAMBinding",
            {"role": "roles/logging.logWriter", "members": ["user:a@acme.com"]},
            "IAMBinding is authoritative",
        ),
        ("gcp:projects/iAMPolicy:IAMPolicy", {"policyData": "{}"}, "IAMPolicy is authoritative"),
        (
            "gcp:organizations/iAMMember:IAMMember",
            {"role": "roles/logging.logWriter", "member": "user:a@acme.com"},
            "organization-wide grant",
        ),
        (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            {"role": "roles/owner", "member": "user:a@acme.com"},
            "basic role roles/owner",
        ),
        (
            "gcp:serviceaccount/iAMMember:IAMMember",
            {"role": "roles/iam.serviceAccountUser", "member": "allAuthenticatedUsers"},
            "wildcard members",
        ),
    ],
    ids=["project-admin", "project-binding", "project-policy", "org-member", "basic-role", "all-authenticated"],
)
def test_wide_gcp_iam_fails(resource_type, props, expected):
    problems = rules.no_wide_iam(resource_type, props)
    assert any(expected in p for p in problems), problems


def test_scoped_aws_policy_passes_and_wildcards_fail():
    scoped = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::models", "arn:aws:s3:::models/*"],
            }
        ],
    }
    assert rules.no_wide_iam("aws:iam/rolePolicy:RolePolicy", {"policy": json.dumps(scoped)}) == []
    assert rules.no_wide_iam("aws:iam/policy:Policy", {"policy": scoped}) == []

    star_action = copy.deepcopy(scoped)
    star_action["Statement"][0]["Action"] = "s3:*"
    assert any(
        "wildcard action" in p for p in rules.no_wide_iam("aws:iam/policy:Policy", {"policy": json.dumps(star_action)})
    )
    star_resource = copy.deepcopy(scoped)
    star_resource["Statement"][0]["Resource"] = "*"
    assert any(
        "Resource '*'" in p for p in rules.no_wide_iam("aws:iam/policy:Policy", {"policy": json.dumps(star_resource)})
    )


def test_deny_statements_may_use_wildcards_and_admin_attachments_fail():
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    assert rules.no_wide_iam("aws:iam/policy:Policy", {"policy": json.dumps(deny)}) == []
    attachment = {"role": "triton", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert rules.no_wide_iam("aws:iam/rolePolicyAttachment:RolePolicyAttachment", attachment)


def test_public_trust_policy_on_a_role_fails():
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    problems = rules.no_wide_iam("aws:iam/role:Role", {"assumeRolePolicy": json.dumps(trust)})
    assert any("assumeRolePolicy" in p and "Principal '*'" in p for p in problems)


# --- Key mode ----------------------------------------------------------------------------------


@pytest.mark.parametrize("resource_type", ["gcp:serviceaccount/key:Key", "aws:iam/accessKey:AccessKey"])
def test_keys_are_rejected_in_prod_only(resource_type):
    assert rules.no_key_mode_in_prod(resource_type, {}, PROD)
    assert rules.no_key_mode_in_prod(resource_type, {}, rules.Context(stack="prod-aws"))
    assert rules.no_key_mode_in_prod(resource_type, {}, DEV) == []
    assert rules.no_key_mode_in_prod(resource_type, {}, rules.Context(stack="dev-aws")) == []
    assert rules.no_key_mode_in_prod("gcp:serviceaccount/account:Account", {}, PROD) == []


def test_prod_pattern_is_configurable():
    assert rules.no_key_mode_in_prod(
        "gcp:serviceaccount/key:Key", {}, rules.Context(stack="live", prod_stack_pattern="^live$")
    )


# --- Istio mTLS --------------------------------------------------------------------------------


def _peer_auth(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default"},
        "spec": spec,
    }


def test_strict_peer_authentication_passes_with_a_metrics_port_exception():
    assert rules.istio_mtls_strict(PEER_AUTH, _peer_auth({"mtls": {"mode": "STRICT"}})) == []
    scrape = {
        "selector": {"matchLabels": {"app": "triton"}},
        "mtls": {"mode": "STRICT"},
        "portLevelMtls": {"8002": {"mode": "PERMISSIVE"}},
    }
    assert rules.istio_mtls_strict(PEER_AUTH, _peer_auth(scrape)) == []


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"mtls": {"mode": "PERMISSIVE"}},
        {"mtls": {"mode": "DISABLE"}},
        {"mtls": {"mode": "STRICT"}, "portLevelMtls": {"8000": {"mode": "PERMISSIVE"}}},
        {"mtls": {"mode": "STRICT"}, "portLevelMtls": {"8002": {"mode": "DISABLE"}}},
    ],
    ids=["unset", "permissive", "disabled", "permissive-serving-port", "disabled-metrics-port"],
)
def test_non_strict_peer_authentication_fails(spec):
    assert rules.istio_mtls_strict(PEER_AUTH, _peer_auth(spec))


# --- KEDA --------------------------------------------------------------------------------------


def _scaled_object(max_replicas: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"scaleTargetRef": {"name": "triton-default"}, "minReplicaCount": 1}
    if max_replicas is not None:
        spec["maxReplicaCount"] = max_replicas
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "triton"}, "spec": spec}


def test_scaled_object_within_the_pool_maximum_passes():
    assert rules.keda_max_replicas(SCALED_OBJECT, _scaled_object(4), rules.Context(max_replica_count=4)) == []
    assert rules.keda_max_replicas(SCALED_OBJECT, _scaled_object(40)) == []  # no maximum configured


def test_scaled_object_above_the_pool_maximum_fails_and_unset_means_100():
    (message,) = rules.keda_max_replicas(SCALED_OBJECT, _scaled_object(5), rules.Context(max_replica_count=4))
    assert "maxReplicaCount is 5, above the pool maximum 4" in message
    (message,) = rules.keda_max_replicas(SCALED_OBJECT, _scaled_object(None), rules.Context(max_replica_count=4))
    assert "100 (unset" in message


# --- Stack rules -------------------------------------------------------------------------------


def _gke_pool(max_nodes: int, gpus: int = 1, shared: int | None = None) -> Any:
    accelerator: dict[str, Any] = {"type": "nvidia-l4", "count": gpus}
    if shared:
        accelerator["gpuSharingConfig"] = {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": shared}
    props = {"autoscaling": {"totalMaxNodeCount": max_nodes}, "nodeConfig": {"guestAccelerators": [accelerator]}}
    return rules.StackResource("gcp:container/nodePool:NodePool", "gpu", props)


def _stack_with(pool: Any, max_replicas: int) -> list[Any]:
    deployment = triton_deployment()
    scaled = _scaled_object(max_replicas)
    scaled["metadata"]["namespace"] = "triton"
    return [pool, rules.StackResource(DEPLOYMENT, "d", deployment), rules.StackResource(SCALED_OBJECT, "s", scaled)]


def test_autoscaler_within_pool_capacity_passes_and_above_fails():
    assert rules.stack_rules(_stack_with(_gke_pool(4), 4)) == []
    assert rules.stack_rules(_stack_with(_gke_pool(2, shared=2), 4)) == []  # time-sharing doubles the slots
    (violation,) = rules.stack_rules(_stack_with(_gke_pool(3), 4))
    assert violation.policy == "keda-max-replicas-within-pool" and "need 4 GPU(s)" in violation.message


def test_s3_bucket_needs_a_public_access_block():
    bucket = rules.StackResource("aws:s3/bucketV2:BucketV2", "models", {"bucket": "models"})
    (violation,) = rules.stack_rules([bucket])
    assert violation.resource == "aws:s3/bucketV2:BucketV2::models"
    block = rules.StackResource(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "models-block",
        {"bucket": "[unknown]"},
        frozenset({bucket.id}),
    )
    assert rules.stack_rules([bucket, block]) == []


def test_istio_without_strict_peer_authentication_fails():
    route = rules.StackResource(
        "kubernetes:networking.istio.io/v1:VirtualService",
        "vs",
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "spec": {}},
    )
    (violation,) = rules.stack_rules([route])
    assert violation.policy == "istio-mtls-strict"
    strict = rules.StackResource(PEER_AUTH, "pa", _peer_auth({"mtls": {"mode": "STRICT"}}))
    assert rules.stack_rules([route, strict]) == []


def test_validate_resource_labels_each_violation_with_its_policy():
    bad = _mutated(lambda d: _container(d)["securityContext"].update(privileged=True))
    violations = rules.validate_resource(DEPLOYMENT, bad, PROD, "kubernetes:apps/v1:Deployment::triton")
    assert {v.policy for v in violations} == {"restricted-pod-security"}
    assert all(v.resource == "kubernetes:apps/v1:Deployment::triton" for v in violations)

"""Rules that relate several settings: environment policy, GPU capacity, GKE combinations.

Each rule yields a ``Problem`` naming the one key to change, its value and what is accepted.
They run only on a structurally valid ``PlatformSettings`` and all run, so a user sees every
problem of a stack file at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from triton_components.aws import catalog as aws_catalog
from triton_components.common import versions
from triton_components.common.quantities import memory_bytes
from triton_components.gcp import catalog
from triton_components.gcp.gke_gpu_node_pool_args import pool_problems

from .base import Environment, Problem, contract_problems
from .gpu_rules import check_gpus
from .mesh_rules import check_mesh
from .models import AwsSettings, ClusterSettings, GcpSettings, PlatformSettings
from .observability_rules import check_observability, peak_stable_replicas
from .prerequisite_rules import check_prerequisites

#: GKE gives non-system pods on a reclaimed Spot VM about 15 s to stop.
GKE_SPOT_SHUTDOWN_SECONDS = 15


def check(settings: PlatformSettings) -> list[Problem]:
    return [
        *_triton(settings),
        *_model_groups(settings),
        *_model_repository(settings),
        *(_gcp(settings, settings.gcp) if settings.gcp else ()),
        *(_aws(settings, settings.aws) if settings.aws else ()),
        *check_gpus(settings),
        *check_prerequisites(settings),
        *_cluster(settings),
        *check_mesh(settings),
        *check_observability(settings),
    ]


def _triton(s: PlatformSettings) -> Iterator[Problem]:
    floor = "%02d.%02d" % versions.TRITON_MINIMUM_RELEASE
    if s.triton.release < versions.TRITON_MINIMUM_RELEASE:
        if not s.triton.allow_vulnerable_image:
            yield Problem(
                ("triton", "imageTag"),
                s.triton.image_tag,
                f"Triton releases before {floor} have published critical CVEs (NVIDIA bulletins 5535, 5687); "
                f"use {floor} or newer, or set triton.allowVulnerableImage: true outside prod",
            )
    if s.triton.allow_vulnerable_image and s.environment is Environment.PROD:
        yield Problem(("triton", "allowVulnerableImage"), True, "is not allowed in prod; use a patched image instead")
    seen: set[str] = set()
    for i, api in enumerate(s.triton.restricted_apis):
        if api in seen:
            yield Problem(("triton", "restrictedApis", i), api, "is listed twice; Triton refuses an API in two groups")
        seen.add(api)


def _model_groups(s: PlatformSettings) -> Iterator[Problem]:
    owner: dict[str, str] = {}
    names: set[str] = set()
    explicit = s.triton.model_control_mode == "explicit"
    for i, g in enumerate(s.model_groups):
        at = ("modelGroups", i)
        if g.name in names:
            yield Problem((*at, "name"), g.name, "is used by another model group; names must be unique")
        names.add(g.name)
        for j, model in enumerate(g.models):
            if model in owner:
                yield Problem(
                    (*at, "models", j),
                    model,
                    f"is already served by model group {owner[model]!r}; a model belongs to one group",
                )
            owner.setdefault(model, g.name)
        if g.models and not explicit:
            yield Problem(
                (*at, "models"),
                g.models,
                "lists models, but triton.modelControlMode is 'none', which loads the whole repository; "
                "set triton.modelControlMode: explicit",
            )
        if explicit and not g.models:
            yield Problem(
                (*at, "models"),
                [],
                "is empty, but triton.modelControlMode is 'explicit', so this group would load nothing",
            )
        if g.max_surge == 0 and g.max_unavailable == 0:
            yield Problem((*at, "maxUnavailable"), 0, "is 0 and maxSurge is 0; Kubernetes needs one of them above 0")
        if memory_bytes(g.shm_size) >= memory_bytes(g.memory):
            yield Problem(
                (*at, "shmSize"),
                g.shm_size,
                f"must be below memory ({g.memory}): /dev/shm is memory-backed and counts against it",
            )
        # Autoscaled groups are held to the same rule on autoscaling.minReplicas (observability.py).
        if (
            s.environment is Environment.PROD
            and g.autoscaling is None
            and g.replicas < 2
            and not g.accept_single_replica
        ):
            yield Problem(
                (*at, "replicas"),
                g.replicas,
                "prod needs at least 2 replicas so a rollout or node drain keeps serving; "
                "or set acceptSingleReplica: true to waive it",
            )
        if g.canary is not None and g.replicas == 0:
            yield Problem((*at, "canary"), "set", "needs a stable track: set replicas to 1 or more")
        if g.canary is not None and g.canary.image_tag is None and g.canary.model_repository_path is None:
            yield Problem((*at, "canary"), "set", "changes nothing: set imageTag and/or modelRepositoryPath")


def _model_repository(s: PlatformSettings) -> Iterator[Problem]:
    repo = s.triton.model_repository
    if s.gcp is not None and s.aws is not None:
        yield Problem(("aws",), "set", "a stack targets one cloud: keep either the gcp or the aws section")
    if s.cloud != "none":
        if repo is not None:
            yield Problem(
                ("triton", "modelRepository"),
                repo,
                f"is set, but this stack creates its own model bucket ({s.cloud}.modelBucket); "
                "remove triton.modelRepository",
            )
    elif repo is None:
        yield Problem(
            ("triton", "modelRepository"),
            None,
            "is required when the stack provisions no cloud (no gcp or aws section): "
            "give gs://, s3:// or an absolute path",
        )
    elif not (repo.startswith(("gs://", "s3://", "/")) and len(repo) > 5):
        yield Problem(
            ("triton", "modelRepository"), repo, "must be a gs://bucket/path, s3://bucket/path or an absolute path"
        )


def _gcp(s: PlatformSettings, gcp: GcpSettings) -> Iterator[Problem]:
    prod = s.environment is Environment.PROD
    pool = gcp.gpu_pool
    at = ("gcp", "gpuPool")
    if gcp.identity == "key" and prod:
        yield Problem(
            ("gcp", "identity"), "key", "service-account keys are not allowed in prod; use workload-identity (keyless)"
        )
    if gcp.model_bucket.protect is False and prod:
        yield Problem(("gcp", "modelBucket", "protect"), False, "prod always protects its model bucket; remove the key")
    if prod and gcp.cluster.create and not gcp.cluster.master_authorized_networks:
        yield Problem(
            ("gcp", "cluster", "masterAuthorizedNetworks"), [], "prod clusters need at least one authorized CIDR"
        )
    yield from _created_cluster(s, gcp)
    # The pool contract's own rules (GPU type on the machine, node bounds, MIG and time-sharing keys).
    yield from contract_problems(pool_problems(pool.pool_args()), at, pool.SHARING_KEYS)
    sharing = pool.gpu_sharing
    shared_clients = sharing.max_shared_clients_per_gpu if sharing.strategy == "time-sharing" else None

    # MIG capacity comes from the profile table; a profile GKE does not offer is reported above.
    mig_size = sharing.mig_partition_size
    if sharing.strategy != "mig" or mig_size not in catalog.MIG_PARTITIONS.get(pool.accelerator_type, {}):
        mig_size = None
    per_node = catalog.allocatable_gpus(pool.accelerators_per_node, mig_size, shared_clients, pool.accelerator_type)
    yield from _gpu_capacity(s, per_node, pool.max_nodes, (*at, "maxNodes"), pool.machine_type)
    if pool.spot:
        for i, g in enumerate(s.model_groups):
            budget = g.pre_stop_sleep_seconds + g.exit_timeout_seconds
            if budget > GKE_SPOT_SHUTDOWN_SECONDS:
                yield Problem(
                    ("modelGroups", i, "exitTimeoutSeconds"),
                    g.exit_timeout_seconds,
                    f"preStopSleepSeconds + exitTimeoutSeconds is {budget} s, but GKE gives pods on a reclaimed Spot "
                    f"node {GKE_SPOT_SHUTDOWN_SECONDS} s; keep the sum at {GKE_SPOT_SHUTDOWN_SECONDS} or less",
                )


def _created_cluster(s: PlatformSettings, gcp: GcpSettings) -> Iterator[Problem]:
    """Secrets encryption and Binary Authorization describe a cluster this stack creates."""
    cluster = gcp.cluster
    at = ("gcp", "cluster")
    if not cluster.create:
        for key, field in (("secretEncryption", "secret_encryption"), ("binaryAuthorization", "binary_authorization")):
            if field in cluster.model_fields_set:
                value = getattr(cluster, field)
                yield Problem(
                    (*at, key),
                    value.model_dump(by_alias=True, exclude_unset=True) if hasattr(value, "model_dump") else value,
                    "applies to a cluster this stack creates (gcp.cluster.create: true); an existing cluster keeps its "
                    "own setting: remove the key",
                )
        return
    encryption = cluster.secret_encryption
    if not encryption.enabled and s.environment is Environment.PROD:
        yield Problem(
            (*at, "secretEncryption", "enabled"),
            False,
            "prod clusters encrypt Secrets with a Cloud KMS key (CIS GKE Benchmark 5.3.1); remove the key",
        )
    kms_key = encryption.kms_key_name
    if kms_key is None:
        return
    if not encryption.enabled:
        yield Problem(
            (*at, "secretEncryption", "kmsKeyName"),
            kms_key,
            "names a key, but secretEncryption.enabled is false; remove one of the two",
        )
    region = catalog.region_of(cluster.location)
    if catalog.kms_key_location(kms_key) != region:
        yield Problem(
            (*at, "secretEncryption", "kmsKeyName"),
            kms_key,
            f"the key is in {catalog.kms_key_location(kms_key)}, but GKE encrypts the Secrets of a cluster in "
            f"{cluster.location} only with a key of {region}: give a key from {region}",
        )


def _cluster(s: PlatformSettings) -> Iterator[Problem]:
    if s.cluster is not None and s.cloud != "none":
        yield Problem(
            ("cluster",),
            "set",
            f"describes a cluster this stack does not provision, but it provisions one ({s.cloud}); GPU scheduling "
            f"comes from {s.cloud}'s node pool: remove the cluster section",
        )
    cluster = s.existing_cluster
    if cluster is None:
        return
    yield from _taints(cluster)
    yield from _gpu_capacity(s, cluster.gpus_per_node, cluster.gpu_nodes, ("cluster", "gpuNodes"), "GPU")


def _taints(cluster: ClusterSettings) -> Iterator[Problem]:
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(cluster.gpu_node_taints):
        if (taint.key, taint.effect) in seen:
            yield Problem(
                ("cluster", "gpuNodeTaints", i, "key"),
                taint.key,
                f"appears twice with effect {taint.effect}; a node holds one taint per key and effect",
            )
        seen.add((taint.key, taint.effect))


def _gpu_capacity(
    s: PlatformSettings, per_node: int, max_nodes: int | None, max_nodes_path: tuple[str | int, ...], node: str
) -> Iterator[Problem]:
    """Each replica fits a node, and every replica fits the pool at its maximum size (when known)."""
    for i, g in enumerate(s.model_groups):
        if g.gpus_per_replica > per_node:
            yield Problem(
                ("modelGroups", i, "gpusPerReplica"),
                g.gpus_per_replica,
                f"each {node} node offers {per_node} GPU(s) to pods; use {per_node} or fewer",
            )
    if max_nodes is None:
        return
    # Autoscaled groups count at autoscaling.maxReplicas: the pool must hold every group at its peak.
    needed = sum(
        (peak_stable_replicas(g) + (g.canary.replicas if g.canary else 0)) * g.gpus_per_replica for g in s.model_groups
    )
    capacity = max_nodes * per_node
    if needed > capacity:
        yield Problem(
            max_nodes_path,
            max_nodes,
            f"the model groups need {needed} GPU(s) at their maximum replica counts but {max_nodes} node(s) hold "
            f"{capacity}; raise {max_nodes_path[-1]} or lower replicas (or autoscaling.maxReplicas)",
        )


def _aws(s: PlatformSettings, aws: AwsSettings) -> Iterator[Problem]:
    prod = s.environment is Environment.PROD
    group = aws.gpu_node_group
    at = ("aws", "gpuNodeGroup")
    if aws.identity == "key" and prod:
        yield Problem(("aws", "identity"), "key", "access keys are not allowed in prod; use irsa (keyless)")
    if aws.model_bucket.protect is False and prod:
        yield Problem(("aws", "modelBucket", "protect"), False, "prod always protects its model bucket; remove the key")
    key = aws.model_bucket.kms_key_arn
    if key is not None and key.split(":")[3] != aws.region:
        yield Problem(
            ("aws", "modelBucket", "kmsKeyArn"),
            key,
            f"the key is in {key.split(':')[3]} but the bucket is created in aws.region {aws.region}; S3 encrypts "
            f"only with a KMS key of the bucket's region: give a key from {aws.region}",
        )
    counts = {t: aws_catalog.gpus_of(t) for t in group.instance_types}
    for i, (instance, gpus) in enumerate(counts.items()):
        if gpus is None:
            yield Problem(
                (*at, "instanceTypes", i),
                instance,
                f"has no GPUs; use a type of the {', '.join(aws_catalog.GPU_FAMILIES)} families (e.g. g5.xlarge)",
            )
    known = {n for n in counts.values() if n is not None}
    if len(known) > 1:
        yield Problem(
            (*at, "instanceTypes"), group.instance_types, "mixes GPU counts per node; use types with the same count"
        )
    if group.min_nodes > group.max_nodes:
        yield Problem((*at, "minNodes"), group.min_nodes, f"is above maxNodes ({group.max_nodes})")
    if group.install_device_plugin and group.ami_type in aws_catalog.AMI_TYPES_WITH_DEVICE_PLUGIN:
        yield Problem(
            (*at, "installDevicePlugin"),
            True,
            f"{group.ami_type} nodes run NVIDIA's device plugin themselves, and a second plugin for nvidia.com/gpu "
            "would fight it; remove the key",
        )
    if group.desired_nodes is not None and not group.min_nodes <= group.desired_nodes <= group.max_nodes:
        yield Problem((*at, "desiredNodes"), group.desired_nodes, "must be between minNodes and maxNodes")
    if known:
        yield from _gpu_capacity(s, min(known), group.max_nodes, (*at, "maxNodes"), group.instance_types[0])

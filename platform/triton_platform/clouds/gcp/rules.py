"""Rules of the ``gcp`` section: prod policy, GKE's accelerator and GPU-sharing combinations, the GPU
capacity and compute-capability floor, created-cluster settings and NetworkPolicy enforcement."""

from __future__ import annotations

from collections.abc import Iterator

from triton_components.gcp import catalog
from triton_components.gcp.gke_cluster_args import encryption_problems
from triton_components.gcp.gke_gpu_node_pool_args import pool_problems

from ...config.base import Environment, Problem, contract_problems
from ...config.cluster_rules import gpu_capacity
from ...config.serving_rules import cc, floor_needs
from ...config.settings import PlatformSettings
from .settings import GcpSettings

#: GKE gives non-system pods on a reclaimed Spot VM about 15 s to stop.
GKE_SPOT_SHUTDOWN_SECONDS = 15


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
    yield from gpu_capacity(s, per_node, pool.max_nodes, (*at, "maxNodes"), pool.machine_type)
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
    # The cluster contract's own rules on its KMS key (encryption on, the cluster's region).
    yield from contract_problems(encryption_problems(cluster.cluster_args()), at, cluster.ENCRYPTION_PATHS)


def check(s: PlatformSettings, gcp: GcpSettings) -> Iterator[Problem]:
    yield from _gcp(s, gcp)
    yield from _gpus(s, gcp)
    yield from _network_policy(s, gcp)


def _gpus(settings: PlatformSettings, gcp: GcpSettings) -> Iterator[Problem]:
    floor, needs = floor_needs(settings)
    accelerator = gcp.gpu_pool.accelerator_type
    gpu = catalog.GPUS.get(accelerator)
    if gpu is not None and gpu[2] < floor:
        usable = sorted(a for a, (_, _, capability) in catalog.GPUS.items() if capability >= floor)
        yield Problem(
            ("gcp", "gpuPool", "acceleratorType"),
            accelerator,
            f"is a {gpu[0]} ({gpu[1]}, compute capability {cc(gpu[2])}); {needs}: use "
            f"{', '.join(usable[:-1])} or {usable[-1]}",
        )


def _network_policy(settings: PlatformSettings, gcp: GcpSettings) -> Iterator[Problem]:
    prod = settings.environment is Environment.PROD
    if prod and gcp.cluster.network_policy == "not-enforced":
        yield Problem(
            ("gcp", "cluster", "networkPolicy"),
            "not-enforced",
            "is not allowed in prod: the Triton namespace's ingress and egress isolation depends on it; use enforced",
        )

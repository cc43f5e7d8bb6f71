"""Inputs of ``GkeCluster`` (``GkeClusterArgs``), their defaults and limits, and their validation.

Apart from the component so the platform's config models read the same contract without loading
``pulumi_gcp``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi

from ..common.args import ArgProblem, Setting, raise_first, setting_value
from .catalog import BINARY_AUTHORIZATION_MODES, KMS_KEY_NAME_PATTERN, kms_key_location, region_of

RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE")
#: The control plane of a private cluster reaches its nodes on 443 and 10250 only (GKE's own firewall
#: rule). Webhooks and aggregated APIs of the add-ons listen elsewhere: istiod's sidecar injector and
#: config validation on 15017, KEDA's admission webhook on 9443 and its metrics API server on 6443.
#: (kube-prometheus-stack's operator webhook already listens on 10250 for this reason.)
CONTROL_PLANE_WEBHOOK_PORTS = (15017, 9443, 6443)


class GkeClusterArgs(TypedDict):
    """Inputs of ``GkeCluster``."""

    cluster_name: str
    """GKE cluster name. Required."""
    location: str
    """Region (regional control plane). Required."""
    project: str
    """Project. Required."""
    release_channel: NotRequired[Annotated[str, Setting("REGULAR")]]
    """``RAPID``, ``REGULAR`` or ``STABLE``. Default: ``REGULAR``."""
    network: NotRequired[Annotated[str, Setting("default")]]
    """VPC network. Default: ``default``."""
    master_ipv4_cidr_block: NotRequired[
        Annotated[str, Setting("172.16.0.32/28", pattern=r"[0-9.]+/28", accepts="an IPv4 /28 range")]
    ]
    """/28 for the private control plane. Default: ``172.16.0.32/28``."""
    master_authorized_networks: NotRequired[Sequence[str]]
    """CIDRs allowed to reach the control plane's public endpoint. Default: none, which leaves the
    feature off (any source address, credentials still required): an enabled list without CIDRs
    would lock out everyone, Pulumi's Kubernetes provider included."""
    system_machine_type: NotRequired[Annotated[str, Setting("e2-standard-4")]]
    """Machine type of the system pool (Istio, KEDA, Prometheus). Default: ``e2-standard-4``."""
    control_plane_webhook_ports: NotRequired[Annotated[Sequence[int], Setting(CONTROL_PLANE_WEBHOOK_PORTS)]]
    """TCP ports of the system nodes the control plane may reach from ``master_ipv4_cidr_block``, beyond
    GKE's own 443 and 10250: without them a private cluster cannot call the add-ons' webhooks. Default:
    ``[15017, 9443, 6443]`` (istiod, KEDA's webhook, KEDA's metrics API)."""
    encrypt_secrets: NotRequired[Annotated[bool, Setting(True)]]
    """Application-layer Secrets encryption with a Cloud KMS key (CIS GKE Benchmark 5.3.1); False leaves
    Secrets in etcd under Google's default encryption only. Default: True."""
    secrets_kms_key: NotRequired[
        Annotated[
            pulumi.Input[str] | None,
            Setting(
                None,
                pattern=KMS_KEY_NAME_PATTERN,
                accepts="a key's resource name, projects/<project>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>",
            ),
        ]
    ]
    """An existing key for that (``projects/…/locations/<the cluster's region>/keyRings/…/cryptoKeys/…``);
    GKE's service agent ``service-<project number>@container-engine-robot.iam.gserviceaccount.com`` must
    already hold ``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on it. Default: None: a key ring and a
    key rotated every 90 days are created (``GkeSecretsKey``) and the agent is granted on that key only."""
    binary_authorization: NotRequired[Annotated[str, Setting("DISABLED")]]
    """Binary Authorization ``evaluation_mode``: ``DISABLED`` or ``PROJECT_SINGLETON_POLICY_ENFORCE`` (the
    project's policy must then admit every image the cluster runs: Triton, Istio, KEDA, Prometheus and
    GKE's own). Default: ``DISABLED``."""


def validate_cluster(args: GkeClusterArgs) -> None:
    """Raise ``ValueError`` naming the input, the bad value and what is accepted (single-key limits are
    the keys' Settings)."""
    channel = _value(args, "release_channel")
    if channel not in RELEASE_CHANNELS:
        raise ValueError(f"release_channel is {channel!r}; use one of {', '.join(RELEASE_CHANNELS)}")
    mode = _value(args, "binary_authorization")
    if mode not in BINARY_AUTHORIZATION_MODES:
        raise ValueError(f"binary_authorization is {mode!r}; use one of {', '.join(BINARY_AUTHORIZATION_MODES)}")
    bad_ports = [p for p in _value(args, "control_plane_webhook_ports") if not 1 <= p <= 65535]
    if bad_ports:
        raise ValueError(f"control_plane_webhook_ports has {bad_ports}; use TCP ports 1-65535")
    raise_first(encryption_problems(args))


def encryption_problems(args: Mapping[str, Any]) -> Iterator[ArgProblem]:
    """A KMS key for Secrets encryption that GKE would refuse: given with encryption off, or from another
    region than the cluster's. The platform's config reports these at its own keys."""
    key = args.get("secrets_kms_key")
    if key is not None and not _value(args, "encrypt_secrets"):
        yield ArgProblem(
            ("secrets_kms_key",), key, "names a key, but ``encrypt_secrets`` is false; remove one of the two"
        )
    if isinstance(key, str):
        key_location, region = kms_key_location(key), region_of(args["location"])
        if key_location != region:
            yield ArgProblem(
                ("secrets_kms_key",),
                key,
                f"the key is in {key_location}, but GKE encrypts the Secrets of a cluster in {args['location']} "
                f"only with a key of {region}: give a key from {region}",
            )


def _value(args: Mapping[str, Any], key: str) -> Any:
    return setting_value(args, GkeClusterArgs, key)

"""Which changes make the GCP provider replace a resource, for the offline diff's hard-review flags.

The ForceNew / RequiresReplace fields of the Terraform resource pulumi-gcp 10 bridges
(hashicorp/terraform-provider-google v8, google/services/...), in Pulumi's names (camelCase; a block
that is a list is plural, as the SDK names it); ``review.diff`` says how the tables are read.
"""

from __future__ import annotations

from ..registry import EVERY_INPUT

# GKE node_config (container/node_config.go ``schemaNodeConfig``), shared by node pools and
# clusters: machine type, disk, image type, labels, taints, workload metadata, gcfs and kubelet
# settings update in place; these do not.
_GKE_NODE_CONFIG = tuple(
    f"nodeConfig.{field}"
    for field in (
        "advancedMachineFeatures",
        "bootDiskKmsKey",
        "confidentialNodes.confidentialInstanceType",
        "enableConfidentialStorage",
        "ephemeralStorageLocalSsdConfig",
        "flexStart",
        "guestAccelerators",
        "hostMaintenancePolicy",
        "localNvmeSsdBlockConfig",
        "localSsdCount",
        "localSsdEncryptionMode",
        "maxRunDuration",
        "metadata",
        "minCpuPlatform",
        "nodeGroup",
        "oauthScopes",
        "preemptible",
        "reservationAffinity",
        "sandboxConfig",
        "secondaryBootDisks",
        "serviceAccount",
        "shieldedInstanceConfig",
        "soleTenantConfig",
        "spot",
    )
)
#: Type token -> input paths that force a replacement (``EVERY_INPUT``: all of them).
FORCE_NEW: dict[str, tuple[str, ...]] = {
    # IAM members have no update (tpgiamresource ``IamMemberBaseSchema``: every field ForceNew).
    "gcp:projects/iAMMember:IAMMember": (EVERY_INPUT,),
    "gcp:serviceaccount/iAMMember:IAMMember": (EVERY_INPUT,),
    "gcp:storage/bucketIAMMember:BucketIAMMember": (EVERY_INPUT,),
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": (EVERY_INPUT,),
    # resourcemanager/resource_google_service_account_key.go: every argument ForceNew.
    "gcp:serviceaccount/key:Key": (
        "serviceAccountId",
        "keyAlgorithm",
        "privateKeyType",
        "publicKeyType",
        "publicKeyData",
        "keepers",
    ),
    # resourcemanager/resource_google_service_account.go: display name and description update.
    "gcp:serviceaccount/account:Account": ("accountId", "project"),
    # resourcemanager/resource_google_project_service.go: the disable_* flags update.
    "gcp:projects/service:Service": ("project", "service"),
    # compute/resource_compute_firewall.go: the network, rules, ranges and targets update (PATCH).
    "gcp:compute/firewall:Firewall": ("direction", "name", "params", "project"),
    # compute/resource_compute_router.go
    "gcp:compute/router:Router": (
        "encryptedInterconnectRouter",
        "name",
        "nccGateway",
        "network",
        "params",
        "project",
        "region",
    ),
    # compute/resource_compute_router_nat.go: allocation, ranges and logging update.
    "gcp:compute/routerNat:RouterNat": (
        "endpointTypes",
        "initialNatIps",
        "name",
        "project",
        "region",
        "router",
        "type",
    ),
    # kms/resource_kms_key_ring.go: nothing updates.
    "gcp:kms/keyRing:KeyRing": ("location", "name", "project"),
    # kms/resource_kms_crypto_key.go: rotation period and labels update.
    "gcp:kms/cryptoKey:CryptoKey": (
        "cryptoKeyBackend",
        "destroyScheduledDuration",
        "importOnly",
        "keyRing",
        "name",
        "purpose",
        "versionTemplate.protectionLevel",
    ),
    # storage/resource_storage_bucket.go: storage class, versioning, lifecycle, soft delete, access
    # settings and labels update.
    "gcp:storage/bucket:Bucket": (
        "customPlacementConfig.dataLocations",
        "enableObjectRetention",
        "hierarchicalNamespace",
        "location",
        "name",
        "project",
    ),
    # container/resource_container_node_pool.go (``schemaNodePool``): node locations, autoscaling,
    # management and upgrade settings update.
    "gcp:container/nodePool:NodePool": (
        "cluster",
        "initialNodeCount",
        "location",
        "maxPodsPerNode",
        "name",
        "namePrefix",
        "networkConfig.acceleratorNetworkProfile",
        "networkConfig.additionalNodeNetworkConfigs",
        "networkConfig.additionalPodNetworkConfigs",
        "networkConfig.createPodRange",
        "networkConfig.podCidrOverprovisionConfig",
        "networkConfig.podIpv4CidrBlock",
        "networkConfig.podRange",
        "networkConfig.subnetwork",
        "placementPolicy",
        "project",
        "queuedProvisioning",
        *_GKE_NODE_CONFIG,
    ),
    # container/resource_container_cluster.go: authorized networks, private endpoint and nodes,
    # release channel, encryption, Binary Authorization, workload identity, deletion protection update.
    "gcp:container/cluster:Cluster": (
        "clusterAutoscaling.autoProvisioningDefaults.bootDiskKmsKey",
        "clusterIpv4Cidr",
        "confidentialNodes.confidentialInstanceType",
        "confidentialNodes.enabled",
        "datapathProvider",
        "dataplaneOptimizationMode",
        "defaultMaxPodsPerNode",
        "description",
        "enableAutopilot",
        "enableKubernetesAlpha",
        "enableTpu",
        "initialNodeCount",
        "ipAllocationPolicy.clusterIpv4CidrBlock",
        "ipAllocationPolicy.clusterSecondaryRangeName",
        "ipAllocationPolicy.podCidrOverprovisionConfig",
        "ipAllocationPolicy.servicesIpv4CidrBlock",
        "ipAllocationPolicy.servicesSecondaryRangeName",
        "location",
        "masterAuth.clientCertificateConfig",
        "name",
        "network",
        "networkingMode",
        "nodePools",
        "privateClusterConfig.masterIpv4CidrBlock",
        "privateClusterConfig.privateEndpointSubnetwork",
        "project",
        "subnetwork",
        "userManagedKeysConfig.aggregationCa",
        "userManagedKeysConfig.clusterCa",
        "userManagedKeysConfig.etcdApiCa",
        "userManagedKeysConfig.etcdPeerCa",
        *_GKE_NODE_CONFIG,
    ),
    # Explicit providers. The Terraform bridge's ``DiffConfig`` (pkg/tfbridge/provider.go
    # ``configDiffer``) replaces a provider only for fields its ProviderInfo marks
    # ``ForcesProviderReplace``; a new project or region updates the provider, and the resources
    # that take it as a default then see their own ForceNew project/region change.
    "pulumi:providers:gcp": (),
}

"""GCP components: what they ask GCP for (hardening, least privilege, data safety)."""

from __future__ import annotations

import re

import pytest

from support.render import inputs, one
from triton_components.gcp import GcpModelReaderIdentity, GcsModelBucket, GkeCluster, GkeGpuNodePool, GkeSecretsKey

NODE_POOL = "gcp:container/nodePool:NodePool"
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"


def _pool(**overrides):
    args = {
        "cluster": "ml",
        "location": "us-central1",
        "project": "acme-ml",
        "pool_label": "triton-test-gpu",
        **overrides,
    }
    created = {}

    def program():
        created["pool"] = GkeGpuNodePool("gpu", args)

    return program, created


def test_node_pool_is_hardened_with_a_dedicated_minimal_account(run):
    program, _ = _pool()
    render = run(program)
    pool = inputs(render, NODE_POOL)
    node = pool["nodeConfig"]
    assert node["serviceAccount"] == "triton-test-gpu-nodes@acme-ml.iam.gserviceaccount.com"
    assert "compute@developer" not in node["serviceAccount"]
    assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert node["imageType"] == "COS_CONTAINERD"
    assert node["gcfsConfig"] == {"enabled": True}
    assert node["metadata"] == {"disable-legacy-endpoints": "true"}
    assert pool["management"] == {"autoRepair": True, "autoUpgrade": True}
    accelerator = node["guestAccelerators"][0]
    assert accelerator["type"] == "nvidia-tesla-t4" and accelerator["count"] == 1
    assert accelerator["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "LATEST"}
    roles = sorted(r["inputs"]["role"] for r in render.find(PROJECT_IAM))
    assert roles == [
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer",
    ]


def test_tolerations_match_the_pool_taints_exactly(run):
    program, created = _pool(spot=True)
    render = run(program)
    taints = inputs(render, NODE_POOL)["nodeConfig"]["taints"]
    tolerations = created["pool"].tolerations
    as_k8s = [
        {"key": t["key"], "value": t["value"], "effect": t["effect"].replace("NO_SCHEDULE", "NoSchedule")}
        for t in taints
    ]
    assert [{k: v for k, v in t.items() if k != "operator"} for t in tolerations] == as_k8s
    assert {t["key"] for t in taints} == {"nvidia.com/gpu", "cloud.google.com/gke-spot"}
    assert inputs(render, NODE_POOL)["nodeConfig"]["spot"] is True
    assert created["pool"].node_selector["cloud.google.com/gke-spot"] == "true"


def test_time_sharing_and_mig_configure_the_accelerator_and_selector(run):
    program, created = _pool(gpu_sharing_strategy="time-sharing", max_shared_clients_per_gpu=4)
    accelerator = inputs(run(program), NODE_POOL)["nodeConfig"]["guestAccelerators"][0]
    assert accelerator["gpuSharingConfig"] == {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": 4}
    assert created["pool"].allocatable_gpus_per_node == 4
    program, created = _pool(
        machine_type="a2-highgpu-1g",
        accelerator_type="nvidia-tesla-a100",
        gpu_sharing_strategy="mig",
        mig_partition_size="1g.5gb",
    )
    accelerator = inputs(run(program), NODE_POOL)["nodeConfig"]["guestAccelerators"][0]
    assert accelerator["gpuPartitionSize"] == "1g.5gb"
    assert created["pool"].node_selector["cloud.google.com/gke-gpu-partition-size"] == "1g.5gb"
    assert created["pool"].allocatable_gpus_per_node == 7


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"machine_type": "e2-standard-8"}, "takes no GPUs"),
        ({"machine_type": "g2-standard-8", "accelerator_type": "nvidia-tesla-t4"}, "comes with nvidia-l4"),
        ({"accelerators_per_node": 3}, "takes 1, 2, 4 GPU"),
        ({"gpu_sharing_strategy": "mig", "mig_partition_size": "1g.5gb"}, "nvidia-tesla-t4 has no MIG"),
        (
            {"gpu_sharing_strategy": "mig", "accelerator_type": "nvidia-tesla-a100", "machine_type": "a2-highgpu-1g"},
            "mig_partition_size is None: use one of 1g.5gb",
        ),
        ({"gpu_sharing_strategy": "time-sharing"}, "max_shared_clients_per_gpu is None: is required for time-sharing"),
        ({"max_shared_clients_per_gpu": 4}, "max_shared_clients_per_gpu is 4: needs gpu_sharing_strategy time-sharing"),
        ({"min_nodes": 4, "max_nodes": 2}, "min_nodes is 4: is above max_nodes"),
        ({"min_nodes": 4, "max_nodes": 2}, "above max_nodes"),
    ],
)
def test_node_pool_rejects_what_gke_would_refuse(run, overrides, message):
    program, _ = _pool(**overrides)
    with pytest.raises(ValueError, match=message):
        run(program)


def test_bucket_is_private_versioned_recoverable_and_protected(run):
    render = run(lambda: GcsModelBucket("models", {"name_prefix": "acme", "location": "US-CENTRAL1"}))
    bucket = one(render, "gcp:storage/bucket:Bucket")
    spec = bucket["inputs"]
    assert spec["uniformBucketLevelAccess"] is True
    assert spec["publicAccessPrevention"] == "enforced"
    assert spec["versioning"] == {"enabled": True}
    assert spec["softDeletePolicy"]["retentionDurationSeconds"] == 7 * 86400
    assert spec["forceDestroy"] is False
    assert spec["lifecycleRules"][0]["condition"]["daysSinceNoncurrentTime"] == 30
    assert spec["name"].startswith("acme-") and len(spec["name"]) == len("acme-") + 8
    assert bucket["options"]["protect"] is True and bucket["options"]["retainOnDelete"] is True
    assert one(render, "random:index/randomId:RandomId")["options"].get("protect") is True


def test_bucket_protection_can_be_waived_explicitly(run):
    render = run(lambda: GcsModelBucket("models", {"name_prefix": "acme", "location": "EU", "protect": False}))
    assert "protect" not in one(render, "gcp:storage/bucket:Bucket")["options"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # GCS refuses 1-6 days; 0 would turn recovery off.
        ({"soft_delete_retention_days": 3}, "args.soft_delete_retention_days is 3; give a number from 7 to 90"),
        (
            {"name_prefix": "Acme"},
            "args.name_prefix is 'Acme'; give 1-41 lowercase letters, digits or '-', starting alphanumeric",
        ),
    ],
)
def test_bucket_rejects_what_gcs_would_refuse(run, overrides, message):
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the whole message is asserted below
        run(lambda: GcsModelBucket("models", {"name_prefix": "acme", "location": "EU", **overrides}))
    assert str(caught.value) == f"GcsModelBucket 'models': {message}"


def _identity(mode, **overrides):
    created = {}

    def program():
        created["identity"] = GcpModelReaderIdentity(
            "reader",
            {
                "account_id": "triton-test-reader",
                "project": "acme-ml",
                "bucket_name": "models-1234",
                "namespace": "triton",
                "service_account_name": "triton",
                "mode": mode,
                **overrides,
            },
        )

    return program, created


def test_reader_identity_is_bucket_scoped_and_read_only(run):
    program, _ = _identity("workload-identity")
    render = run(program)
    grants = render.find("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert sorted(g["inputs"]["role"] for g in grants) == [
        "roles/storage.legacyBucketReader",
        "roles/storage.objectViewer",
    ]
    assert {g["inputs"]["bucket"] for g in grants} == {"models-1234"}
    assert not render.find(PROJECT_IAM)
    assert not render.find("gcp:serviceaccount/key:Key")


def test_workload_identity_binds_exactly_one_kubernetes_service_account(run):
    program, created = _identity("workload-identity")
    render = run(program)
    binding = inputs(render, "gcp:serviceaccount/iAMMember:IAMMember")
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"] == "serviceAccount:acme-ml.svc.id.goog[triton/triton]"
    assert created["identity"].credentials_file is None


def test_key_mode_keeps_the_key_secret(run):
    program, created = _identity("key")
    render = run(program)
    assert one(render, "gcp:serviceaccount/key:Key")["options"]["additionalSecretOutputs"] == ["privateKey"]
    assert not render.find("gcp:serviceaccount/iAMMember:IAMMember")
    assert created["identity"].credentials_file["env_var"] == "GOOGLE_APPLICATION_CREDENTIALS"


@pytest.mark.parametrize(
    ("mode", "overrides", "message"),
    [
        ("oidc", {}, "mode is 'oidc'; use one of workload-identity, key"),
        (
            "key",
            {"account_id": "reader-"},
            "GcpModelReaderIdentity 'reader': args.account_id is 'reader-'; give 6-30 lowercase letters, digits or "
            "'-', starting with a letter",
        ),
    ],
)
def test_reader_identity_rejects_what_iam_would_refuse(run, mode, overrides, message):
    program, _ = _identity(mode, **overrides)
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the whole message is asserted below
        run(program)
    assert str(caught.value) == message


def test_new_cluster_is_private_shielded_and_workload_identity_enabled(run):
    render = run(
        lambda: GkeCluster(
            "cluster",
            {
                "cluster_name": "ml",
                "location": "us-central1",
                "project": "acme-ml",
                "master_authorized_networks": ["203.0.113.0/24"],
            },
        )
    )
    cluster = inputs(render, "gcp:container/cluster:Cluster")
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "acme-ml.svc.id.goog"}
    assert cluster["enableShieldedNodes"] is True
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"][0]["cidrBlock"] == "203.0.113.0/24"
    assert "compute@developer" not in cluster["nodeConfig"]["serviceAccount"]
    assert one(render, "gcp:compute/routerNat:RouterNat")


def test_protect_guards_the_node_pool_only(run):
    program, _ = _pool(protect=True)
    render = run(program)
    assert one(render, NODE_POOL)["options"]["protect"] is True
    assert not [r for r in render.resources if r["type"] != NODE_POOL and r["options"].get("protect")]


def test_new_cluster_without_authorized_networks_sends_no_authorized_networks_block(run):
    """An empty master_authorized_networks_config enables the feature with zero CIDRs: nobody, the
    Kubernetes provider included, could reach the control plane. Without CIDRs the block is omitted."""
    render = run(lambda: GkeCluster("cluster", {"cluster_name": "ml", "location": "us-central1", "project": "acme-ml"}))
    assert "masterAuthorizedNetworksConfig" not in inputs(render, "gcp:container/cluster:Cluster")
    render = run(
        lambda: GkeCluster(
            "cluster",
            {"cluster_name": "ml", "location": "us-central1", "project": "acme-ml", "master_authorized_networks": []},
        )
    )
    assert "masterAuthorizedNetworksConfig" not in inputs(render, "gcp:container/cluster:Cluster")


@pytest.mark.parametrize(
    ("machine", "accelerator", "partition", "per_gpu"),
    [
        ("a2-highgpu-1g", "nvidia-tesla-a100", "1g.5gb", 7),
        ("a2-highgpu-1g", "nvidia-tesla-a100", "2g.10gb", 3),
        ("a2-highgpu-1g", "nvidia-tesla-a100", "3g.20gb", 2),
        ("a2-highgpu-1g", "nvidia-tesla-a100", "7g.40gb", 1),
        ("a2-ultragpu-1g", "nvidia-a100-80gb", "1g.10gb", 7),
        ("a2-ultragpu-1g", "nvidia-a100-80gb", "3g.40gb", 2),
        ("a3-highgpu-1g", "nvidia-h100-80gb", "1g.10gb", 7),
        ("a3-highgpu-1g", "nvidia-h100-80gb", "1g.20gb", 4),
        ("a3-highgpu-1g", "nvidia-h100-80gb", "2g.20gb", 3),
        ("a3-highgpu-1g", "nvidia-h100-80gb", "4g.40gb", 1),
        ("a3-highgpu-1g", "nvidia-h100-80gb", "7g.80gb", 1),
    ],
)
def test_mig_pools_offer_the_instances_per_gpu_of_nvidias_profile_table(run, machine, accelerator, partition, per_gpu):
    program, created = _pool(
        machine_type=machine, accelerator_type=accelerator, gpu_sharing_strategy="mig", mig_partition_size=partition
    )
    run(program)
    assert created["pool"].allocatable_gpus_per_node == per_gpu


CLUSTER = "gcp:container/cluster:Cluster"
FIREWALL = "gcp:compute/firewall:Firewall"


def _cluster(**overrides):
    args = {"cluster_name": "ml", "location": "us-central1", "project": "acme-ml", **overrides}
    return lambda: GkeCluster("cluster", args)


def test_private_cluster_lets_the_control_plane_reach_the_add_on_webhooks_on_the_system_nodes(run):
    """GKE opens only 443 and 10250 from the control plane to private nodes: istiod's injector (15017)
    and KEDA's webhook (9443) and metrics API (6443) need a rule of their own, from the master CIDR."""
    render = run(_cluster(master_ipv4_cidr_block="172.16.8.0/28"))
    rule = inputs(render, FIREWALL)
    assert rule["direction"] == "INGRESS"
    assert rule["sourceRanges"] == ["172.16.8.0/28"]
    assert rule["allows"] == [{"protocol": "tcp", "ports": ["15017", "9443", "6443"]}]
    assert rule["network"] == inputs(render, CLUSTER)["network"] == "default"
    system_nodes = inputs(render, "gcp:container/nodePool:NodePool")["nodeConfig"]["serviceAccount"]
    assert rule["targetServiceAccounts"] == [system_nodes] == ["ml-system@acme-ml.iam.gserviceaccount.com"]
    assert "targetTags" not in rule and "sourceTags" not in rule


def test_secrets_are_encrypted_with_a_rotated_kms_key_only_gke_may_use(run):
    render = run(_cluster())
    encryption = inputs(render, CLUSTER)["databaseEncryption"]
    ring = inputs(render, "gcp:kms/keyRing:KeyRing")
    key = inputs(render, "gcp:kms/cryptoKey:CryptoKey")
    assert ring["location"] == "us-central1" and ring["project"] == "acme-ml"
    assert ring["name"].startswith("ml-secrets-") and len(ring["name"]) == len("ml-secrets-") + 8
    assert key["keyRing"] == f"projects/acme-ml/locations/us-central1/keyRings/{ring['name']}"
    assert key["purpose"] == "ENCRYPT_DECRYPT"
    assert key["rotationPeriod"] == f"{90 * 86400}s"
    assert encryption == {"state": "ENCRYPTED", "keyName": f"{key['keyRing']}/cryptoKeys/{key['name']}"}
    grant = inputs(render, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert grant["cryptoKeyId"] == encryption["keyName"]
    assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert re.fullmatch(
        r"serviceAccount:service-[0-9]+@container-engine-robot\.iam\.gserviceaccount\.com", grant["member"]
    )
    # GKE checks the agent's grant when it creates the cluster.
    cluster = one(render, CLUSTER)
    assert (
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember::cluster-secrets-key-gke-service-agent" in cluster["dependsOn"]
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rotation_days": 400}, "args.rotation_days is 400; give a number from 1 to 365"),
        (
            {"name_prefix": "9-secrets"},
            "args.name_prefix is '9-secrets'; give 1-51 lowercase letters, digits or '-', starting with a letter",
        ),
    ],
)
def test_secrets_key_rejects_what_cloud_kms_would_refuse(run, overrides, message):
    args = {"project": "acme-ml", "location": "us-central1", "name_prefix": "ml-secrets", **overrides}
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the whole message is asserted below
        run(lambda: GkeSecretsKey("key", args))
    assert str(caught.value) == f"GkeSecretsKey 'key': {message}"


def test_a_zonal_cluster_keys_its_secrets_in_its_region(run):
    render = run(_cluster(location="us-central1-a"))
    assert inputs(render, "gcp:kms/keyRing:KeyRing")["location"] == "us-central1"


def test_an_existing_key_is_used_as_given_and_nothing_is_created_or_granted(run):
    key = "projects/acme-sec/locations/us-central1/keyRings/gke/cryptoKeys/ml"
    render = run(_cluster(secrets_kms_key=key))
    assert inputs(render, CLUSTER)["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": key}
    assert not render.find("gcp:kms/keyRing:KeyRing") and not render.find(
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
    )


def test_secret_encryption_off_must_be_asked_for_by_name(run):
    render = run(_cluster(encrypt_secrets=False))
    assert inputs(render, CLUSTER)["databaseEncryption"] == {"state": "DECRYPTED"}
    assert not render.find("gcp:kms/cryptoKey:CryptoKey")


def test_binary_authorization_is_off_unless_enforced_by_name(run):
    assert inputs(run(_cluster()), CLUSTER)["binaryAuthorization"] == {"evaluationMode": "DISABLED"}
    render = run(_cluster(binary_authorization="PROJECT_SINGLETON_POLICY_ENFORCE"))
    assert inputs(render, CLUSTER)["binaryAuthorization"] == {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"binary_authorization": "ENFORCE"},
            "binary_authorization is 'ENFORCE'; use one of DISABLED, PROJECT_SINGLETON_POLICY_ENFORCE",
        ),
        (
            {"secrets_kms_key": "projects/acme-sec/locations/europe-west1/keyRings/gke/cryptoKeys/ml"},
            "secrets_kms_key is 'projects/acme-sec/locations/europe-west1/keyRings/gke/cr...: the key is in "
            "europe-west1, but GKE encrypts the Secrets of a cluster in us-central1 only with a key of us-central1: "
            "give a key from us-central1",
        ),
        (
            {"secrets_kms_key": "gke/ml"},
            "GkeCluster 'cluster': args.secrets_kms_key is 'gke/ml'; give a key's resource name, "
            "projects/<project>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>",
        ),
        (
            {"master_ipv4_cidr_block": "172.16.0.0/24"},
            "GkeCluster 'cluster': args.master_ipv4_cidr_block is '172.16.0.0/24'; give an IPv4 /28 range",
        ),
        (
            {
                "secrets_kms_key": "projects/acme-sec/locations/us-central1/keyRings/gke/cryptoKeys/ml",
                "encrypt_secrets": False,
            },
            "secrets_kms_key is 'projects/acme-sec/locations/us-central1/keyRings/gke/cry...: names a key, but "
            "encrypt_secrets is false; remove one of the two",
        ),
        ({"control_plane_webhook_ports": [0]}, "control_plane_webhook_ports has [0]; use TCP ports 1-65535"),
    ],
)
def test_new_cluster_rejects_what_gke_would_refuse(run, overrides, message):
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the whole message is asserted below
        run(_cluster(**overrides))
    assert str(caught.value) == message

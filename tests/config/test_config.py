"""Bad configuration: the exact messages a user reads, all problems at once, nothing declared."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import ROOT
from support.config import GCP, REPO, env, problems
from triton_platform.config import load_settings


def test_wrong_type_unknown_key_and_out_of_range_are_reported_together():
    assert problems(env("qa", colour="blue", triton=REPO, modelGroups='[{"name": "a", "replicas": -1}]')) == [
        "triton-platform:environment = 'qa': Input should be 'dev', 'staging' or 'prod'",
        "triton-platform:modelGroups[0].replicas = -1: Input should be greater than or equal to 0",
        "triton-platform:colour: unknown key; accepted keys here: environment, gcp, aws, cluster, triton, mesh, "
        "observability, modelGroups, adminApiKey, alertReceiverSecret",
    ]


def test_nested_unknown_key_names_the_accepted_keys_at_that_level():
    [message] = problems(env("dev", triton={**REPO, "replica": 2}))
    assert message.startswith(
        "triton-platform:triton.replica: unknown key; accepted keys here: namespace, imageRepository"
    )


def test_quantities_are_checked():
    assert problems(env("dev", triton=REPO, modelGroups=[{"name": "a", "memory": "lots"}])) == [
        "triton-platform:modelGroups[0].memory = 'lots': 'lots' is not a memory quantity; "
        "use a number with Ki, Mi, Gi or Ti (e.g. 16Gi)"
    ]


def test_environment_rules_for_prod():
    found = problems(
        env(
            "prod",
            gcp={**GCP, "identity": "key", "modelBucket": {"protect": False}},
            modelGroups=[{"name": "a", "replicas": 1}],
        )
    )
    assert found == [
        "triton-platform:modelGroups[0].replicas = 1: prod needs at least 2 replicas so a rollout or node drain "
        "keeps serving; or set acceptSingleReplica: true to waive it",
        "triton-platform:gcp.identity = 'key': service-account keys are not allowed in prod; use workload-identity (keyless)",
        "triton-platform:gcp.modelBucket.protect = false: prod always protects its model bucket; remove the key",
    ]


def test_prod_single_replica_can_be_waived_explicitly():
    settings = load_settings(
        env(
            "prod",
            gcp={**GCP, "gpuPool": {"maxNodes": 2}},
            modelGroups=[{"name": "a", "replicas": 1, "acceptSingleReplica": True}],
        ),
        "P.yaml",
    )
    assert settings.model_groups[0].replicas == 1


@pytest.mark.parametrize(
    ("pool", "groups", "expected"),
    [
        (
            {"machineType": "n1-standard-8", "acceleratorType": "nvidia-l4"},
            None,
            "triton-platform:gcp.gpuPool.machineType = 'n1-standard-8': nvidia-l4 is not offered on N1 machine types; "
            "use its own family (a2, a3 or g2)",
        ),
        (
            {"acceleratorType": "nvidia-tesla-k80"},
            None,
            "triton-platform:gcp.gpuPool.acceleratorType = 'nvidia-tesla-k80': accelerator 'nvidia-tesla-k80' is not one of "
            "nvidia-a100-80gb, nvidia-h100-80gb, nvidia-l4, nvidia-tesla-a100, nvidia-tesla-p100, nvidia-tesla-p4, "
            "nvidia-tesla-t4, nvidia-tesla-v100",
        ),
        (
            {"gpuSharing": {"strategy": "mig", "migPartitionSize": "1g.5gb"}},
            None,
            "triton-platform:gcp.gpuPool.gpuSharing.strategy = 'mig': nvidia-tesla-t4 has no MIG; MIG needs one of "
            "nvidia-tesla-a100, nvidia-a100-80gb, nvidia-h100-80gb",
        ),
        (
            {
                "machineType": "a2-highgpu-1g",
                "acceleratorType": "nvidia-tesla-a100",
                "gpuSharing": {"strategy": "mig", "migPartitionSize": "3g.40gb"},
            },
            None,
            "triton-platform:gcp.gpuPool.gpuSharing.migPartitionSize = '3g.40gb': use one of 1g.5gb, 2g.10gb, 3g.20gb, "
            "7g.40gb for nvidia-tesla-a100",
        ),
        (
            {},
            [{"name": "a", "gpusPerReplica": 2}],
            "triton-platform:modelGroups[0].gpusPerReplica = 2: each n1-standard-8 node offers 1 GPU(s) to pods; "
            "use 1 or fewer",
        ),
        (
            {"maxNodes": 1},
            [{"name": "a", "replicas": 2}],
            "triton-platform:gcp.gpuPool.maxNodes = 1: the model groups need 2 GPU(s) at their maximum replica counts but "
            "1 node(s) hold 1; raise maxNodes or lower replicas (or autoscaling.maxReplicas)",
        ),
        (
            {"spot": True},
            [{"name": "a"}],
            "triton-platform:modelGroups[0].exitTimeoutSeconds = 30 (default; set this key to change it): "
            "preStopSleepSeconds + exitTimeoutSeconds is 40 s, "
            "but GKE gives pods on a reclaimed Spot node 15 s; keep the sum at 15 or less",
        ),
    ],
)
def test_gpu_pool_combinations_gke_refuses(pool, groups, expected):
    config = env("dev", gcp={**GCP, "gpuPool": pool})
    if groups:
        config["triton-platform:modelGroups"] = groups
    assert problems(config) == [expected]


def test_model_groups_rules():
    found = problems(
        env(
            "dev",
            triton={**REPO, "modelControlMode": "none"},
            modelGroups=[{"name": "a", "models": ["m1"]}, {"name": "a", "models": ["m1"]}],
        )
    )
    assert found == [
        "triton-platform:modelGroups[0].models = [\"m1\"]: lists models, but triton.modelControlMode is 'none', "
        "which loads the whole repository; set triton.modelControlMode: explicit",
        "triton-platform:modelGroups[1].name = 'a': is used by another model group; names must be unique",
        "triton-platform:modelGroups[1].models[0] = 'm1': is already served by model group 'a'; a model belongs to one group",
        "triton-platform:modelGroups[1].models = [\"m1\"]: lists models, but triton.modelControlMode is 'none', "
        "which loads the whole repository; set triton.modelControlMode: explicit",
    ]


def test_old_triton_release_is_refused_unless_waived_outside_prod():
    assert problems(env("dev", triton={**REPO, "imageTag": "24.01-py3"})) == [
        "triton-platform:triton.imageTag = '24.01-py3': Triton releases before 25.07 have published critical CVEs "
        "(NVIDIA bulletins 5535, 5687); use 25.07 or newer, or set triton.allowVulnerableImage: true outside prod"
    ]
    load_settings(env("dev", triton={**REPO, "imageTag": "24.01-py3", "allowVulnerableImage": True}), "P.yaml")


def test_repository_is_required_without_a_cloud_and_forbidden_with_one():
    assert problems(env("dev")) == [
        "triton-platform:triton.modelRepository = (not set): is required when the stack provisions no cloud "
        "(no gcp or aws section): give gs://, s3:// or an absolute path"
    ]
    assert problems(env("dev", gcp=GCP, triton=REPO))[0].startswith(
        "triton-platform:triton.modelRepository = 'gs://models/repo': is set, but this stack creates its own model bucket"
    )


def test_admin_key_must_be_a_pulumi_secret():
    assert problems(env("dev", triton=REPO, adminApiKey="plain")) == [
        "triton-platform:adminApiKey: is stored in plain text; set it with `pulumi config set --secret adminApiKey`"
    ]
    load_settings(
        {**env("dev", triton=REPO), "triton-platform:adminApiKey": "[secret]"},
        "P.yaml",
        frozenset({"triton-platform:adminApiKey"}),
    )


def test_cli_prints_one_screen_without_traceback_and_declares_nothing(tmp_path):
    root = ROOT
    (tmp_path / "Pulumi.yaml").write_text((root / "Pulumi.yaml").read_text())
    (tmp_path / "stacks").symlink_to(root / "stacks")  # render runs the project's own program
    (tmp_path / "Pulumi.broken.yaml").write_text(
        "config:\n  triton-platform:environment: prod\n  triton-platform:modelGroups:\n    - name: Bad Name\n"
    )
    for command in (["validate", "broken"], ["render", "broken", "--out", str(tmp_path / "out")]):
        result = subprocess.run(
            [sys.executable, "-m", "triton_platform.cli", *command], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("Invalid configuration in Pulumi.broken.yaml (1 problem):")
        assert "triton-platform:modelGroups[0].name = 'Bad Name': must be a DNS label" in result.stderr
        assert len(result.stderr.splitlines()) <= 20
    assert not (tmp_path / "out").exists()


AWS = {"region": "us-east-1", "cluster": {"name": "ml", "autoscaler": "cluster-autoscaler"}}


@pytest.mark.parametrize(
    ("aws", "groups", "expected"),
    [
        (
            {"gpuNodeGroup": {"instanceTypes": ["m5.large"]}},
            None,
            "triton-platform:aws.gpuNodeGroup.instanceTypes[0] = 'm5.large': has no GPUs; use a type of the g4dn, g5, "
            "g6, g6e, p3, p4d, p5 families (e.g. g5.xlarge)",
        ),
        (
            {},
            [{"name": "a", "gpusPerReplica": 2}],
            "triton-platform:modelGroups[0].gpusPerReplica = 2: each g5.xlarge node offers 1 GPU(s) to pods; use 1 or fewer",
        ),
        (
            {"gpuNodeGroup": {"maxNodes": 1}},
            [{"name": "a", "replicas": 3}],
            "triton-platform:aws.gpuNodeGroup.maxNodes = 1: the model groups need 3 GPU(s) at their maximum replica counts but "
            "1 node(s) hold 1; raise maxNodes or lower replicas (or autoscaling.maxReplicas)",
        ),
    ],
)
def test_aws_node_group_rules(aws, groups, expected):
    config = env("dev", aws={**AWS, **aws})
    if groups:
        config["triton-platform:modelGroups"] = groups
    assert problems(config) == [expected]


def test_aws_prod_rules_and_one_cloud_per_stack():
    assert problems(env("prod", aws={**AWS, "identity": "key"}, modelGroups=[{"name": "a", "replicas": 2}])) == [
        "triton-platform:aws.identity = 'key': access keys are not allowed in prod; use irsa (keyless)"
    ]
    assert problems(env("dev", aws=AWS, gcp=GCP))[0] == (
        "triton-platform:aws = 'set': a stack targets one cloud: keep either the gcp or the aws section"
    )


def test_existing_cluster_defaults_to_the_gpu_operator_label_and_the_common_gpu_taint():
    cluster = load_settings(env("dev", triton=REPO), "P.yaml").existing_cluster
    assert cluster is not None
    assert cluster.gpu_node_selector == {"nvidia.com/gpu.present": "true"}
    assert [t.model_dump() for t in cluster.gpu_node_taints] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    assert load_settings(env("dev", gcp=GCP), "P.yaml").existing_cluster is None


@pytest.mark.parametrize(
    ("cluster", "groups", "expected"),
    [
        (
            {"gpuNodeTaints": [{"key": "nvidia.com/gpu", "effect": "NoRun"}]},
            None,
            "triton-platform:cluster.gpuNodeTaints[0].effect = 'NoRun': Input should be 'NoSchedule', 'PreferNoSchedule' "
            "or 'NoExecute'",
        ),
        (
            {"gpuNodeSelector": {"gpu type": "a100"}},
            None,
            "triton-platform:cluster.gpuNodeSelector.gpu type.[key] = 'gpu type': does not have the accepted form "
            "(regular expression ^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]"
            "([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$)",
        ),
        (
            {"gpuNodeTaints": [{"key": "gpu", "value": "yes"}, {"key": "gpu", "value": "no"}]},
            None,
            "triton-platform:cluster.gpuNodeTaints[1].key = 'gpu': appears twice with effect NoSchedule; a node holds one "
            "taint per key and effect",
        ),
        (
            {"gpusPerNode": 2},
            [{"name": "a", "gpusPerReplica": 4}],
            "triton-platform:modelGroups[0].gpusPerReplica = 4: each GPU node offers 2 GPU(s) to pods; use 2 or fewer",
        ),
        (
            {"gpuNodes": 2},
            [{"name": "a", "replicas": 2}, {"name": "b", "replicas": 2}],
            "triton-platform:cluster.gpuNodes = 2: the model groups need 4 GPU(s) at their maximum replica counts but "
            "2 node(s) hold 2; raise gpuNodes or lower replicas (or autoscaling.maxReplicas)",
        ),
    ],
)
def test_existing_cluster_rules(cluster, groups, expected):
    config = env("dev", triton=REPO, cluster=cluster)
    if groups:
        config["triton-platform:modelGroups"] = groups
    assert problems(config) == [expected]


def test_cluster_section_belongs_only_to_stacks_without_a_cloud():
    assert problems(env("dev", gcp=GCP, cluster={"gpusPerNode": 2})) == [
        "triton-platform:cluster = 'set': describes a cluster this stack does not provision, but it provisions one "
        "(gcp); GPU scheduling comes from gcp's node pool: remove the cluster section"
    ]


def test_a_problem_in_a_default_says_it_is_one_and_which_key_changes_it():
    spot = env("dev", gcp={**GCP, "gpuPool": {"spot": True}})
    # The user wrote the group but not its exit timeout: the default is what breaks the rule.
    assert problems({**spot, "triton-platform:modelGroups": [{"name": "a", "preStopSleepSeconds": 5}]}) == [
        "triton-platform:modelGroups[0].exitTimeoutSeconds = 30 (default; set this key to change it): "
        "preStopSleepSeconds + exitTimeoutSeconds is 35 s, but GKE gives pods on a reclaimed Spot node 15 s; keep "
        "the sum at 15 or less"
    ]
    # No modelGroups at all: the default group's default is at fault, and the key to write is modelGroups.
    assert problems(spot) == [
        "triton-platform:modelGroups[0].exitTimeoutSeconds = 30 (default, as the stack file has no "
        "triton-platform:modelGroups; set this key to change it): preStopSleepSeconds + exitTimeoutSeconds is 40 s, "
        "but GKE gives pods on a reclaimed Spot node 15 s; keep the sum at 15 or less"
    ]
    # A value the user wrote is shown as theirs.
    assert problems({**spot, "triton-platform:modelGroups": [{"name": "a", "exitTimeoutSeconds": 20}]}) == [
        "triton-platform:modelGroups[0].exitTimeoutSeconds = 20: preStopSleepSeconds + exitTimeoutSeconds is 30 s, "
        "but GKE gives pods on a reclaimed Spot node 15 s; keep the sum at 15 or less"
    ]

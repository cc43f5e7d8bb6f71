"""A user's program: their own cluster provider, their own bucket, our TritonServer component."""

import pulumi
import pulumi_kubernetes as k8s

from triton_components import TritonServer

config = pulumi.Config()
# The consumer owns where resources land: the provider is theirs, passed through opts.
cluster = k8s.Provider("my-cluster", context=config.get("kubeContext"))
# Triton's admin key: a secret of yours (`pulumi config set --secret adminApiKey ...`), or generated.
admin_api_key = config.get_secret("adminApiKey")

triton = TritonServer(
    "inference",
    {
        "namespace": "inference",
        "model_repository": config.get("modelRepository") or "gs://my-team-models/triton",
        "model_control_mode": "explicit",
        "model_groups": [
            {"name": "vision", "models": ["resnet50"], "replicas": 2, "gpus_per_replica": 1},
            {"name": "text", "models": ["bert-base"], "replicas": 2, "cpu": "2", "memory": "8Gi"},
        ],
        # Keyless access: the user's Workload Identity binding, made elsewhere in their program.
        "service_account_annotations": {"iam.gke.io/gcp-service-account": "models@my-project.iam.gserviceaccount.com"},
        **({"admin_api_key": admin_api_key} if admin_api_key is not None else {}),
    },
    pulumi.ResourceOptions(providers=[cluster]),
)

pulumi.export("endpoints", triton.endpoints)

"""``GkeSecretsKey``: the Cloud KMS key a new GKE cluster encrypts its Secrets with (application-layer
Secrets encryption, CIS GKE Benchmark 5.3.1), and the GKE service agent's right to use it."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from ..common.args import check_args, setting_value
from .gke_secrets_key_args import GkeSecretsKeyArgs

#: The role GKE's service agent needs on the key to encrypt and decrypt Secrets.
ENCRYPTER_DECRYPTER_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


def gke_service_agent(project_number: str) -> str:
    """The GKE service agent of a project: it encrypts and decrypts Secrets for the control plane."""
    return f"serviceAccount:service-{project_number}@container-engine-robot.iam.gserviceaccount.com"


class GkeSecretsKey(pulumi.ComponentResource):
    """A key ring and a symmetric key rotated automatically, usable only by the project's GKE service agent."""

    key_name: pulumi.Output[str]
    """``projects/…/locations/…/keyRings/…/cryptoKeys/…``: GKE's ``database_encryption.key_name``."""

    def __init__(self, name: str, args: GkeSecretsKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "GkeSecretsKey", name, args, GkeSecretsKeyArgs
        )  # misspelt keys and wrong types, before anything else
        rotation = setting_value(args, GkeSecretsKeyArgs, "rotation_days")
        super().__init__("tritonplatform:index:GkeSecretsKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project, location = args["project"], args["location"]

        suffix = random.RandomId(f"{name}-suffix", byte_length=4, opts=child)
        ring = gcp.kms.KeyRing(
            f"{name}-key-ring",
            name=pulumi.Output.concat(args["name_prefix"], "-", suffix.hex),
            project=project,
            location=location,
            opts=child,
        )
        ring_name = pulumi.Output.concat("projects/", project, "/locations/", location, "/keyRings/", ring.name)
        key = gcp.kms.CryptoKey(
            f"{name}-key",
            name="gke-secrets",
            key_ring=ring_name,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=f"{rotation * 86400}s",
            # Destroying the key makes every Secret it encrypted unreadable: a deleted version stays
            # recoverable for 30 days (KMS's own default, written out so nobody shortens it unknowingly).
            destroy_scheduled_duration=f"{30 * 86400}s",
            opts=child,
        )
        self.key_name = pulumi.Output.concat(ring_name, "/cryptoKeys/", key.name)
        number = gcp.organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOutputOptions(parent=self)
        ).number
        gcp.kms.CryptoKeyIAMMember(
            f"{name}-gke-service-agent",
            crypto_key_id=self.key_name,
            role=ENCRYPTER_DECRYPTER_ROLE,
            member=number.apply(gke_service_agent),
            opts=child,
        )
        self.register_outputs({"key_name": self.key_name})

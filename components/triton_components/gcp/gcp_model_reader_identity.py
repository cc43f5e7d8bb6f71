"""``GcpModelReaderIdentity``: the Google identity Triton reads the model bucket with.

A dedicated service account with read-only access granted on the one bucket (never a project
role), reached either keylessly through GKE Workload Identity (default) or through a key
file, as the original GKE guide does.
"""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pulumi_gcp as gcp

from ..common.args import check_args, setting_value
from .gcp_model_reader_identity_args import GcpModelReaderIdentityArgs, validate_identity

#: Read objects, plus storage.buckets.get which Triton calls before listing ("Could not get
#: MetaData for bucket" otherwise). Nothing that writes or deletes.
BUCKET_READER_ROLES = ("roles/storage.objectViewer", "roles/storage.legacyBucketReader")
WORKLOAD_IDENTITY_ANNOTATION = "iam.gke.io/gcp-service-account"
KEY_FILE_NAME = "key.json"

#: Where Workload Identity hands pods their tokens, for egress NetworkPolicies: pods dial the metadata
#: address on 80; the GKE metadata server listens on 169.254.169.252:988, which is what policy sees
#: on the iptables dataplane (DNAT happens first), while Dataplane V2 sees the original address.
#: Source: GKE "Control communication between Pods and Services using network policies".
GKE_METADATA_ENDPOINTS = (
    {"cidr": "169.254.169.254/32", "ports": [80]},
    {"cidr": "169.254.169.252/32", "ports": [988]},
)


class GcpModelReaderIdentity(pulumi.ComponentResource):
    email: pulumi.Output[str]
    """The Google service account's email."""
    service_account_annotations: dict[str, pulumi.Output[str]]
    """Annotations for Triton's Kubernetes ServiceAccount (Workload Identity); empty in key mode."""
    credentials_file: dict[str, Any] | None
    """``CredentialsFileArgs`` for ``TritonServer`` in key mode (content stays secret); None otherwise."""
    node_endpoints: list[dict[str, Any]]
    """Node-local endpoints Triton's pods must reach for their identity (``NodeEndpointArgs``): the GKE
    metadata server with Workload Identity; none in key mode (the key file needs only HTTPS)."""

    def __init__(self, name: str, args: GcpModelReaderIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_args(
            "GcpModelReaderIdentity", name, args, GcpModelReaderIdentityArgs
        )  # misspelt keys and wrong types, before anything else
        validate_identity(args)  # before anything is registered: nothing is half-created
        mode = setting_value(args, GcpModelReaderIdentityArgs, "mode")
        super().__init__("tritonplatform:index:GcpModelReaderIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = args["project"]

        account = gcp.serviceaccount.Account(
            f"{name}-account",
            account_id=args["account_id"],
            project=project,
            display_name="Triton model repository reader",
            description="Reads the Triton model bucket; read-only, bucket-scoped.",
            opts=child,
        )
        member = pulumi.Output.concat("serviceAccount:", account.email)
        for role in BUCKET_READER_ROLES:
            gcp.storage.BucketIAMMember(
                f"{name}-{role.rsplit('.', 1)[-1].lower()}",
                bucket=args["bucket_name"],
                role=role,
                member=member,
                opts=child,
            )

        self.email = account.email
        self.service_account_annotations = {}
        self.credentials_file = None
        self.node_endpoints = []
        if mode == "workload-identity":
            gcp.serviceaccount.IAMMember(
                f"{name}-workload-identity",
                service_account_id=account.name,
                role="roles/iam.workloadIdentityUser",
                # Exactly one Kubernetes ServiceAccount may act as this Google account.
                member=f"serviceAccount:{project}.svc.id.goog[{args['namespace']}/{args['service_account_name']}]",
                opts=child,
            )
            self.service_account_annotations = {WORKLOAD_IDENTITY_ANNOTATION: account.email}
            self.node_endpoints = [dict(e) for e in GKE_METADATA_ENDPOINTS]
        else:
            key = gcp.serviceaccount.Key(
                f"{name}-key",
                service_account_id=account.name,
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["private_key"]),
            )
            # private_key is the base64 of the JSON key file; decoding keeps it a secret Output.
            content = pulumi.Output.secret(key.private_key).apply(lambda encoded: base64.b64decode(encoded).decode())
            self.credentials_file = {
                "content": content,
                "file_name": KEY_FILE_NAME,
                "env_var": "GOOGLE_APPLICATION_CREDENTIALS",
            }
        self.register_outputs({"email": self.email})

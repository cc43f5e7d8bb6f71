"""A dedicated, minimal node service account: never the Compute Engine default."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

#: The minimal roles GKE documents for a node service account (logs, metrics, metadata).
#: They are project roles by nature; nothing else is granted at project level.
NODE_SERVICE_ACCOUNT_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
)


def node_service_account(
    name: str,
    *,
    account_id: str,
    project: str,
    roles: Sequence[str] = NODE_SERVICE_ACCOUNT_ROLES,
    parent: pulumi.Resource,
) -> gcp.serviceaccount.Account:
    """Declare the account and its role grants as children of ``parent``; return the account."""
    child = pulumi.ResourceOptions(parent=parent)
    account = gcp.serviceaccount.Account(
        name, account_id=account_id, project=project, display_name="GKE nodes (minimal)", opts=child
    )
    for role in roles:
        gcp.projects.IAMMember(
            f"{name}-{role.rsplit('/', 1)[-1].replace('.', '-').lower()}",
            project=project,
            role=role,
            member=pulumi.Output.concat("serviceAccount:", account.email),
            opts=child,
        )
    return account

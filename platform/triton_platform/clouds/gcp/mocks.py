"""What GCP's provider computes for the resources and functions the GCP layer uses, for the offline render."""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi


def mock_resource(args: pulumi.runtime.MockResourceArgs, state: dict[str, Any], digest: str) -> None:
    if args.typ == "gcp:serviceaccount/account:Account":
        project = args.inputs.get("project", "project")
        state["email"] = f"{args.inputs['accountId']}@{project}.iam.gserviceaccount.com"
        state["name"] = f"projects/{project}/serviceAccounts/{state['email']}"
    elif args.typ == "gcp:serviceaccount/key:Key":
        state["privateKey"] = "bW9jay1rZXk="
    elif args.typ == "gcp:storage/bucket:Bucket":
        state["url"] = f"gs://{args.inputs['name']}"
    elif args.typ == "gcp:container/nodePool:NodePool":
        state.setdefault("name", f"{args.inputs.get('namePrefix', '')}{digest[:8]}")
    elif args.typ == "gcp:container/cluster:Cluster":
        state.update(endpoint="203.0.113.10", masterAuth={"clusterCaCertificate": "bW9jay1jYQ=="})


def mock_call(token: str, args: dict[str, Any]) -> dict[str, Any] | None:
    if token == "gcp:organizations/getProject:getProject":
        project = str(args.get("projectId", "project"))
        number = int(hashlib.sha256(project.encode()).hexdigest()[:8], 16)
        return {"projectId": project, "number": str(100000000000 + number)}
    if token == "gcp:container/getCluster:getCluster":
        # A cluster that meets the prerequisites (preview.py): Workload Identity, Dataplane V2.
        return {
            "name": args.get("name"),
            "location": args.get("location"),
            "endpoint": "203.0.113.10",
            "masterAuths": [{"clusterCaCertificate": "bW9jay1jYQ=="}],
            "workloadIdentityConfigs": [{"workloadPool": f"{args.get('project')}.svc.id.goog"}],
            "datapathProvider": "ADVANCED_DATAPATH",
        }
    return None

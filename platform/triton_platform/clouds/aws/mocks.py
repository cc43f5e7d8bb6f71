"""What AWS's provider computes for the resources and functions the AWS layer uses, for the offline render."""

from __future__ import annotations

from typing import Any

import pulumi


def mock_resource(args: pulumi.runtime.MockResourceArgs, state: dict[str, Any], digest: str) -> None:
    if args.typ == "aws:s3/bucket:Bucket":
        state.update(arn=f"arn:aws:s3:::{args.inputs['bucket']}", id=args.inputs["bucket"])
    elif args.typ == "aws:iam/role:Role":
        state["arn"] = f"arn:aws:iam::123456789012:role/{state.get('name', args.name)}"
    elif args.typ == "aws:iam/user:User":
        state["arn"] = f"arn:aws:iam::123456789012:user/{state.get('name', args.name)}"
    elif args.typ == "aws:iam/accessKey:AccessKey":
        state["secret"] = "mock-secret-access-key"
    elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
        state["latestVersion"] = 1
    elif args.typ == "aws:eks/nodeGroup:NodeGroup":
        state.setdefault("nodeGroupName", f"{args.inputs.get('nodeGroupNamePrefix', '')}{digest[:8]}")


def mock_call(token: str, args: dict[str, Any]) -> dict[str, Any] | None:
    if token == "aws:eks/getAddon:getAddon":
        # An add-on that enforces NetworkPolicy (preview.py).
        return {
            "addonName": args.get("addonName"),
            "clusterName": args.get("clusterName"),
            "configurationValues": '{"enableNetworkPolicy": "true"}',
        }
    if token == "aws:eks/getCluster:getCluster":
        return {
            "name": args.get("name"),
            "endpoint": "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
            "certificateAuthorities": [{"data": "bW9jay1jYQ=="}],
            "identities": [{"oidcs": [{"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF"}]}],
            "vpcConfig": {"subnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]},
        }
    if token == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider":
        url = str(args.get("url", "")).removeprefix("https://")
        return {"arn": f"arn:aws:iam::123456789012:oidc-provider/{url}", "url": url}
    return None

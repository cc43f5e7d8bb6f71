"""Which changes make the AWS provider replace a resource, for the offline diff's hard-review flags.

The ForceNew / RequiresReplace fields of the Terraform resource pulumi-aws 7 bridges
(hashicorp/terraform-provider-aws v6, internal/service/...), whose v6 ``region`` argument of regional
resources replaces them unless it only spells out the provider's own region
(internal/provider/sdkv2/region.go ``forceNewIfRegionChanges``); ``review.diff`` says how the tables are read.
"""

from __future__ import annotations

from ..registry import EVERY_INPUT

#: S3 bucket sub-resources (s3/bucket_*.go): the bucket they configure, and the v6 region.
_S3_BUCKET_PART = ("bucket", "region")
#: Types whose deletion or replacement loses data beyond what their kind says (KMS keys, image repositories).
STATEFUL_TYPES = frozenset({"aws:kms/key:Key", "aws:ecr/repository:Repository"})
#: Type token -> input paths that force a replacement (``EVERY_INPUT``: all of them).
FORCE_NEW: dict[str, tuple[str, ...]] = {
    # iam/role_policy_attachment.go: role and policy_arn ForceNew, no update.
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (EVERY_INPUT,),
    # iam/role.go: the trust policy, description, session length and tags update.
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    # iam/role_policy.go, iam/user_policy.go: the policy document updates (PutRolePolicy/PutUserPolicy).
    "aws:iam/rolePolicy:RolePolicy": ("name", "namePrefix", "role"),
    "aws:iam/userPolicy:UserPolicy": ("name", "namePrefix", "user"),
    # iam/user.go: a new name or path renames the user in place (UpdateUser).
    "aws:iam/user:User": (),
    # iam/access_key.go: only the status updates.
    "aws:iam/accessKey:AccessKey": ("pgpKey", "user"),
    # ec2/ec2_launch_template.go: any other change writes a new version of the same template.
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", "namePrefix", "region"),
    # eks/node_group.go: labels, taints, scaling, update config, version and the launch template's
    # version update; remote access is ForceNew as a whole.
    "aws:eks/nodeGroup:NodeGroup": (
        "amiType",
        "capacityType",
        "clusterName",
        "diskSize",
        "instanceTypes",
        "launchTemplate.id",
        "launchTemplate.name",
        "nodeGroupName",
        "nodeGroupNamePrefix",
        "nodeRoleArn",
        "region",
        "remoteAccess",
        "subnetIds",
    ),
    # s3/bucket.go: force_destroy and tags update.
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled", "region"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _S3_BUCKET_PART,
    "aws:s3/bucketPolicy:BucketPolicy": _S3_BUCKET_PART,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _S3_BUCKET_PART,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        *_S3_BUCKET_PART,
        "expectedBucketOwner",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": (*_S3_BUCKET_PART, "expectedBucketOwner"),
    # s3/bucket_lifecycle_configuration.go (plugin framework): ``stringplanmodifier.RequiresReplace``.
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (*_S3_BUCKET_PART, "expectedBucketOwner"),
    # Explicit providers. The Terraform bridge's ``DiffConfig`` (pkg/tfbridge/provider.go
    # ``configDiffer``) replaces a provider only for fields its ProviderInfo marks
    # ``ForcesProviderReplace``; a new project or region updates the provider, and the resources
    # that take it as a default then see their own ForceNew project/region change.
    "pulumi:providers:aws": (),
}

"""The Pulumi program: validate this stack's config, build the environment, export outputs."""

import pulumi

from triton_platform.config import from_pulumi_config
from triton_platform.environment import build_environment

settings = from_pulumi_config()
config = pulumi.Config()
outputs = build_environment(
    settings,
    admin_api_key=config.get_secret("adminApiKey"),
    alert_receiver_secret=config.get_secret("alertReceiverSecret"),
)
for name, value in outputs.items():
    pulumi.export(name, value)

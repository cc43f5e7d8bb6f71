"""Typed, validated configuration of one environment."""

from .base import Environment
from .loader import ConfigError, from_pulumi_config, load_settings
from .settings import PlatformSettings

__all__ = ["ConfigError", "Environment", "PlatformSettings", "from_pulumi_config", "load_settings"]

"""Typed, validated configuration of one environment."""

from .loader import ConfigError, from_pulumi_config, load_settings
from .models import Environment, PlatformSettings

__all__ = ["ConfigError", "Environment", "PlatformSettings", "from_pulumi_config", "load_settings"]

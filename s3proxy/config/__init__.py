"""Settings (frozen pydantic models) and how they are loaded; see the README's Configuration."""

from s3proxy.config.loading import effective_config_yaml, load_settings, quick_start_settings
from s3proxy.config.models import (
    BucketMapping,
    ConfigError,
    HomeConfig,
    KeyPair,
    LayoutConfig,
    LocalStoreConfig,
    LoggingConfig,
    ServerConfig,
    Settings,
    TenantConfig,
    UpstreamConfig,
)

__all__ = [
    "BucketMapping",
    "ConfigError",
    "HomeConfig",
    "KeyPair",
    "LayoutConfig",
    "LocalStoreConfig",
    "LoggingConfig",
    "ServerConfig",
    "Settings",
    "TenantConfig",
    "UpstreamConfig",
    "effective_config_yaml",
    "load_settings",
    "quick_start_settings",
]

"""Configuration: cameras.yaml as validated pydantic models."""

from streams.config.load import load_config, parse_config, resolve_path
from streams.config.models import Camera, Category, Config, Speaker, Unit, Zone

__all__ = [
    "Camera",
    "Category",
    "Config",
    "Speaker",
    "Unit",
    "Zone",
    "load_config",
    "parse_config",
    "resolve_path",
]

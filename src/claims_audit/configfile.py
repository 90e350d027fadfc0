"""Reading the YAML (or TOML) files that people and rule data supply: layouts, mappings, rule
configurations, rule-data sidecars. A missing or unreadable file is one ConfigError naming what the file
was meant to be and where it is (exit code 2), never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

# libyaml's parser (built into PyYAML's wheels) reads the same safe subset several times faster than the
# pure-Python one: the packaged vocabulary and rule data are parsed on every run
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path: str | Path, what: str, *, toml: bool = False) -> Any:
    """The parsed document of `path` (TOML when `toml` and the file ends in .toml, else YAML).

    `what` names the file in messages: "schema file", "mapping file", "rule configuration"...
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {p} cannot be read: {type(exc).__name__}") from None
    try:
        return tomllib.loads(text) if toml and p.suffix.lower() == ".toml" else yaml.load(text, Loader=SAFE_LOADER)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{what} {p} cannot be parsed: {type(exc).__name__}") from None

"""What every config module shares: the error a config raises and its pydantic setting."""

from __future__ import annotations

from pydantic import ConfigDict


class ConfigError(ValueError):
    """A pipeline config that cannot be used; the message names the file, key and fix."""


FORBID = ConfigDict(extra="forbid")

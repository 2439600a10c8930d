"""The service's configuration, read once from the environment (BentoML starts the service with
no arguments, so the environment is how a deployment configures it)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: How long BentoML lets one request run (its `traffic.timeout`, set by `cxml.service`) before
#: answering 504 itself: the body deadline must be shorter, so a slow body is told 408.
REQUEST_TIMEOUT = 30


@dataclass(frozen=True)
class Settings:
    config: Path  # CXML_CONFIG: the pipeline yaml (model name, data dir, PII columns)
    model_ref: str  # CXML_MODEL_REF: registry alias or version
    api_key: str | None  # CXML_API_KEY: when set, every endpoint but probes and metrics needs it
    max_body_bytes: int  # CXML_MAX_BODY_BYTES
    max_events: int  # CXML_MAX_EVENTS, per customer
    max_batch: int  # CXML_MAX_BATCH: customers per /predict_batch, requests per model call
    header_timeout: int  # CXML_HEADER_TIMEOUT: seconds for a request's line and headers
    body_timeout: int  # CXML_BODY_TIMEOUT: seconds for its body, once the headers are in
    scored: Path | None = None  # CXML_SCORED: a `cxml score --out` folder the page at /ui shows

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Blank values take the default; a limit that is not a positive whole number stops the
        start-up rather than serving with a limit nobody chose."""
        body_timeout = _positive(env, "CXML_BODY_TIMEOUT", 20)
        if body_timeout >= REQUEST_TIMEOUT:
            msg = f"CXML_BODY_TIMEOUT={body_timeout}: must be under {REQUEST_TIMEOUT} seconds"
            raise ValueError(f"{msg}, the time a whole request may take")
        return cls(
            config=Path(env.get("CXML_CONFIG", "").strip() or "pipelines/demo.yaml"),
            model_ref=env.get("CXML_MODEL_REF", "").strip() or "champion",
            api_key=env.get("CXML_API_KEY") or None,
            max_body_bytes=_positive(env, "CXML_MAX_BODY_BYTES", 1 << 20),
            max_events=_positive(env, "CXML_MAX_EVENTS", 5000),
            max_batch=_positive(env, "CXML_MAX_BATCH", 100),
            header_timeout=_positive(env, "CXML_HEADER_TIMEOUT", 10),
            body_timeout=body_timeout,
            scored=Path(raw) if (raw := env.get("CXML_SCORED", "").strip()) else None,
        )


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={raw!r}: expected a positive whole number")
    return int(raw)

"""Where a logged model comes from: the code's commit, cxml's version, and the pins of the
packages it needs to load and predict (no MLflow here: `tracking.py` stays its only importer)."""

from __future__ import annotations

import subprocess
from contextlib import suppress
from importlib import metadata

# Pinned into a model's requirements at their installed versions: MLflow, the unpickler, and
# what cxml's code imports when a model is loaded and predicts (tests/model/test_export.py
# records those imports where cxml is not installed). A registered model also needs cxml.
RUNTIME_DISTS = (
    "mlflow", "cloudpickle", "numpy", "pandas", "pyarrow", "pandera", "pydantic", "pyyaml",
    "scipy", "scikit-learn", "lightgbm", "numba", "llvmlite", "vaderSentiment",
)  # fmt: skip


def code_version() -> str:
    """Short git commit of cwd so a run can be traced to code; never fails the run."""
    try:
        command = ["git", "rev-parse", "--short", "HEAD"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else "unknown"


def package_version() -> str:
    with suppress(metadata.PackageNotFoundError):
        return metadata.version("cxml")
    return "unknown"


def pip_requirements() -> list[str]:
    """Pins from this environment: MLflow's own inference runs a subprocess per model
    and only finds mlflow and cloudpickle for objects pickled by cloudpickle."""
    pins = []
    for dist in RUNTIME_DISTS:
        with suppress(metadata.PackageNotFoundError):
            pins.append(f"{dist}=={metadata.version(dist)}")
    return pins

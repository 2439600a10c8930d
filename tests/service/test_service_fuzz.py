"""Schemathesis over the server's own OpenAPI document (/docs.json), with all its default
checks: no 5xx, every status and body as documented, data the document calls valid accepted
and data it calls invalid refused, the key enforced, undocumented methods answered 405.

Run as `st run` (schemathesis' pytest integration breaks on pytest 9), bounded by the number of
examples per operation; the seed is printed for a replay. tests/service/schemathesis_hooks.py
says what the document cannot (repeated ids in a batch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import API_KEY, Served
from tests.service.server import REPO

EXAMPLES = 30  # per operation and phase: the run stays well under a minute


def test_schemathesis_default_checks_pass_over_the_document(served: Served, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.service.schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{served.url}/docs.json"]
    command += ["--header", f"Authorization: Bearer {API_KEY}", "--max-examples", str(EXAMPLES)]
    command += ["--workers", "1", "--request-timeout", "30", "--no-color"]
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "Examples" in out and "Coverage" in out and "Fuzzing" in out, out[-3000:]
    assert " passed" in out and " failed" not in out, out[-3000:]

"""Every notebook in notebooks/ runs top to bottom on small data, and is committed clean.

Each notebook is executed with nbclient in a kernel of this interpreter (the project venv: a
kernelspec written to a temporary folder, so nothing outside `make install` is needed), with the
repository root as working directory, CXML_NOTEBOOK_CUSTOMERS=1500 and MPLBACKEND=Agg. A failing
cell fails the test, naming the cell and showing its error; each run must finish within the
issue's budget of 2 minutes on 2 cores.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNEL = "cxml-notebook-tests"
KERNEL_ENV = {
    "CXML_NOTEBOOK_CUSTOMERS": "1500",  # the CI size
    "MPLBACKEND": "Agg",  # figures are drawn, not rendered into the outputs
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # quiets the debugger's note about frozen modules
}
CELL_TIMEOUT_SECONDS = 600  # a hung cell fails instead of blocking the run


def _ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 6, f"expected the six notebooks in {REPO / 'notebooks'}"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """Only one kernel: this very interpreter, with the CI settings in its environment."""
    folder = tmp_path_factory.mktemp("kernels")
    (folder / KERNEL).mkdir()
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.log_level=ERROR",  # not its note on local TCP; cell errors still show
        ],
        "display_name": "cxml notebook tests",
        "language": "python",
        "env": KERNEL_ENV,
    }
    (folder / KERNEL / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before "
        "committing (e.g. jupyter nbconvert --clear-output --inplace)"
    )


def _failed_cell(notebook: nbformat.NotebookNode) -> str:
    for i, cell in enumerate(notebook.cells):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return f"cell {i} (code cell {cell.get('execution_count')})"
    return "a cell"


@pytest.mark.slow  # each runs a whole tutorial, trainings included
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(path: Path, kernel_specs: KernelSpecManager) -> None:
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(REPO)}},  # the kernel's working directory
    )
    started = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{path.name}: {_failed_cell(notebook)} failed:\n{error}", pytrace=False)
    finally:
        if manager.has_kernel:  # a kernel manager passed in is ours to stop, not nbclient's
            manager.shutdown_kernel(now=False)
    seconds = time.monotonic() - started
    size = KERNEL_ENV["CXML_NOTEBOOK_CUSTOMERS"]
    # Printed, not asserted: timing belongs in `make bench`, never in a test (issue 9's
    # 2-minute budget is checked by reading this line in the CI log).
    print(f"\n{path.name}: {seconds:.1f} s at {size} customers")

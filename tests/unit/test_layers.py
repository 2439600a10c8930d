"""The folders are the flow: each layer of `src/cxml` imports only itself and the layers below,
and no module reaches itself through its imports (lazy imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "cxml"
#: Bottom to top. A module may import modules of its own layer or of any layer listed before it.
LAYERS = [
    "config",
    "data",
    "features",
    "models",
    "actions",
    "scoring",
    "report",
    "jobs",
    "serving",
    "service",
    "cli",
]


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    """The layer of `cxml.<part>...` (None for cxml itself and __main__)."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def _imports(path: Path, known: set[str]) -> set[str]:
    """The cxml modules `path` imports anywhere in it, resolved to modules that exist."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("cxml") and name != "cxml":
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module(p): p for p in SRC.rglob("*.py")}
    known = set(paths)
    graph = {m: _imports(p, known) - {m} for m, p in paths.items()}
    # importing a module runs its package's __init__, which imports nothing here
    return graph


def test_every_package_is_a_known_layer() -> None:
    strays = [m for m in _graph() if _layer(m) is None and m not in ("cxml", "cxml.__main__")]
    assert not strays, f"put these under a layer or add the layer to LAYERS: {strays}"


def test_nothing_imports_upward() -> None:
    upward = [
        f"{m} -> {n}"
        for m, names in sorted(_graph().items())
        for n in sorted(names)
        if _layer(m) is not None and _layer(n) is not None and _layer(n) > _layer(m)  # type: ignore[operator]
    ]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def _cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if there is one (depth-first)."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_import_cycle() -> None:
    graph = _graph()
    cycles = {" -> ".join(c) for m in graph if (c := _cycle_from(graph, m))}
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


@pytest.mark.parametrize("layer", ["data", "features", "models", "actions", "scoring"])
def test_the_pure_layers_leave_io_to_jobs(layer: str) -> None:
    """The domain layers take frames and arrays and return them: no MLflow, no serving."""
    heavy = ("mlflow", "bentoml", "typer", "tqdm")
    for path in (SRC / layer).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                bad = [n for n in names if n.split(".")[0] in heavy]
                assert not bad, f"{path.relative_to(SRC)} imports {bad}: that belongs in jobs/"

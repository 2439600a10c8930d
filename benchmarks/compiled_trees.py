"""Compiled tree predictors beside LightGBM (issue 26: both models at 3x raw LightGBM's
throughput with compiled trees, predictions equal to LightGBM's within 1e-9, or the conflict
with the pinned stack documented with the versions tried).

Each candidate gets the boosters of a bundle trained as `make bench` trains it (bench_scoring's
`_bundle`: the demo pipeline; every model of a bundle keeps its trees, whichever kind it ships)
and the encoded features of a fresh simulated base, and predicts the trees' raw scores:
- lleaves: compiles the forest with llvmlite;
- treelite's GTIL: interprets the forest in C++, nothing compiled;
- tl2cgen: writes the forest as C and compiles it with the machine's gcc;
- cxml's own (models/flat_trees.py, what scoring uses): the forest as flat arrays, walked by
  code numba compiles, a block of rows in lockstep.
Beside each: its speed over LightGBM's own `predict` on the same rows in the same process (best
of 3, two threads each), the largest difference from LightGBM's scores and how many rows differ
by more than 1e-9; or why it did not run.

None of them is a dependency of cxml: `make compiled-trees` installs them into a folder of the
venv of their own (`pip --target`, without their dependencies, which the pinned stack already
has), so what is checked is each one with the pinned llvmlite, NumPy and LightGBM.

Why lleaves cannot be had with the pinned stack: its newest release (1.3.0) builds with
llvmlite's legacy pass manager (`PassManagerBuilder`), which llvmlite removed in 0.45. shap
needs numba, and the last numba for an llvmlite below 0.45 (0.61.x) needs NumPy below 2.3, where
the stack pins NumPy 2.4 (each requirement as its package states it; the line "numba ...
requires" shows the installed numba's).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np

from benchmarks.bench_scoring import _bundle
from cxml.data.simulate import SimConfig, simulate
from cxml.scoring import Scorer, scoring_population

ROWS = 20_000  # customers of the simulated base the models predict
EQUAL = 1e-9  # the most a compiled score may differ from LightGBM's (issue 26)
TARGET = 3.0  # the speed-up over LightGBM's own predict issue 26 asks of compiled trees
THREADS = 2
STACK = ("lightgbm", "numpy", "llvmlite", "numba", "shap")
CANDIDATES = ("lleaves", "treelite", "tl2cgen")


def version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def best_of(predict: Callable[[], np.ndarray], repeat: int = 3) -> tuple[float, np.ndarray]:
    """The fastest of `repeat` calls, in seconds, and what the last one returned."""
    best, found = float("inf"), np.empty(0)
    for _ in range(repeat):
        start = time.perf_counter()
        found = np.asarray(predict(), dtype=float).ravel()
        best = min(best, time.perf_counter() - start)
    return best, found


def lleaves_predictor(model_file: Path, folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    import lleaves  # type: ignore[import-not-found]

    model = lleaves.Model(model_file=str(model_file))
    model.compile(raw_score=True)
    return lambda matrix: model.predict(matrix, n_jobs=THREADS)


def gtil_predictor(model_file: Path, folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    import treelite  # type: ignore[import-not-found]

    model = treelite.frontend.load_lightgbm_model(str(model_file))
    return lambda matrix: treelite.gtil.predict(model, matrix, pred_margin=True, nthread=THREADS)


def tl2cgen_predictor(model_file: Path, folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    import tl2cgen  # type: ignore[import-not-found]
    import treelite

    model = treelite.frontend.load_lightgbm_model(str(model_file))
    library = folder / f"{model_file.stem}.so"
    with contextlib.redirect_stdout(io.StringIO()):  # its progress log, not a finding
        tl2cgen.export_lib(
            model, toolchain="gcc", libpath=str(library), params={"parallel_comp": 8}
        )
    predictor = tl2cgen.Predictor(str(library), nthread=THREADS)
    return lambda matrix: predictor.predict(
        tl2cgen.DMatrix(matrix, dtype="float64"), pred_margin=True
    )


def cxml_predictor(model_file: Path, folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    """cxml's own walk (models/flat_trees.py), what `cxml score` uses: numba, which shap
    already brings, so nothing to install."""
    from cxml.models.flat_trees import Trees

    trees = Trees.of(lgb.Booster(model_file=str(model_file)))
    assert trees is not None
    return trees.raw_scores


PREDICTORS = {
    "cxml (numba walk)": cxml_predictor,
    "lleaves": lleaves_predictor,
    "treelite GTIL": gtil_predictor,
    "tl2cgen (gcc)": tl2cgen_predictor,
}


def matrix_of(scorer: Scorer) -> np.ndarray:
    """The encoded features of a fresh simulated base's scoring population."""
    sim = simulate(SimConfig(customers=ROWS, seed=5))
    at = sim.config.cutoff
    people = scoring_population(sim.events, sim.customers, at)
    return scorer.bundle.encode(scorer.bundle.features(sim.events, people, at))


def run() -> None:
    print("compiled trees beside LightGBM (raw scores, two threads each, best of 3)")
    print("  load average         {:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg()))
    print("  pinned: " + ", ".join(f"{name} {version(name)}" for name in STACK))
    print("  tried:  " + ", ".join(f"{name} {version(name)}" for name in CANDIDATES))
    needs = [r for r in importlib.metadata.requires("numba") or [] if "extra" not in r]
    print(f"  numba {version('numba')} (shap's) requires: {'; '.join(needs)}")
    with tempfile.TemporaryDirectory(prefix="cxml-compiled-") as tmp:
        folder = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scorer = _bundle(folder)
        matrix = matrix_of(scorer)
        short: set[str] = set()  # the candidates that fell short on some model
        print(f"  rows                 {len(matrix):,} x {matrix.shape[1]} features")
        for target, model in scorer.bundle.models.items():
            boosted = model.boosted
            booster: lgb.Booster = boosted.booster_
            model_file = folder / f"{target}.txt"
            booster.save_model(str(model_file), num_iteration=boosted.best_iteration_)
            trees = lgb.Booster(model_file=str(model_file)).num_trees()
            theirs, expected = best_of(
                lambda b=booster, it=boosted.best_iteration_: b.predict(
                    matrix, raw_score=True, num_iteration=it, num_threads=THREADS
                )
            )
            print(f"  {target} ({trees} trees; shipped as {model.kind}): LightGBM {theirs:.3f} s")
            for name, make in PREDICTORS.items():
                said, speed_up, equal = _outcome(make, model_file, folder, matrix, theirs, expected)
                print(f"    {name:<16} {said}")
                if speed_up < TARGET or not equal:
                    short.add(name)
    met = [name for name in PREDICTORS if name not in short]
    print(
        f"  at >= {TARGET:g}x LightGBM with every row within {EQUAL:g}, on every model: "
        f"{', '.join(met) if met else 'none'}\n"
    )


def _outcome(
    make: Callable[[Path, Path], Callable[[np.ndarray], np.ndarray]],
    model_file: Path,
    folder: Path,
    matrix: np.ndarray,
    theirs: float,
    expected: np.ndarray,
) -> tuple[str, float, bool]:
    """One candidate on one forest: in words, its speed-up and agreement or why it failed;
    the speed-up (0 when it failed); and whether every row agreed within `EQUAL`."""
    try:
        start = time.perf_counter()
        predict = make(model_file, folder)
        ready = time.perf_counter() - start
        ours, found = best_of(lambda: predict(matrix))
    except Exception as error:  # what failed, and how, is the finding
        said = str(error).splitlines()[0] if str(error) else ""
        return f"failed: {type(error).__name__}: {said}", 0.0, False
    gap = np.abs(found - expected)
    differing = int((gap > EQUAL).sum())
    words = (
        f"{theirs / ours:5.2f}x LightGBM ({ours:.3f} s; {ready:.1f} s to build); largest "
        f"difference {gap.max():.2e}, {differing:,} of {len(gap):,} rows over {EQUAL:g}"
    )
    return words, theirs / ours, differing == 0


def main() -> None:
    """`make compiled-trees`: print, then rewrite its section of docs/performance.md."""
    from benchmarks import report

    report.record_alone("compiled", "Compiled trees", "make compiled-trees", run)


if __name__ == "__main__":
    main()

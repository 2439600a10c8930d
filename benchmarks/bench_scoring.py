"""End-to-end batch scoring of the whole simulated base, with wall and CPU time by stage, from
reading the data dir to writing the list, beside raw LightGBM predicting the same matrix with
the same boosters.

Targets: issue 7, end to end in 30 s or less on 2 cores and scoring alone at 45k customers/s or
more; issue 26, end to end within 12 CPU-s for 100k customers, and the models at 3x raw
LightGBM's throughput with compiled trees: cxml's own compiled walk of the same boosters
(models/flat_trees.py) is timed beside raw LightGBM (`make compiled-trees` also checks lleaves,
treelite and tl2cgen with the pinned stack; its section of docs/performance.md says what each
gave).

The bundle is trained once on a smaller simulated base with the demo pipeline (training speed
is measured by bench_training); the stages timed here are what `cxml score` runs. On that base
the held-out choice may ship the logistic models, which predict and explain far faster than
trees; a bigger training base may ship the trees or the blend. So `Scorer.score` is timed again
with every model's trees alone shipped, apart from the end-to-end sum, which is then given both
ways. (Those trees' probabilities go through the shipped calibration, fitted for the chosen
kind: only their cost is read off that call.)
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cxml.config import PipelineConfig, load_config
from cxml.data.io import save_csv, write_together
from cxml.data.load import load_data_dir
from cxml.data.simulate import Simulation
from cxml.jobs.ingest import run_simulate, write_tables
from cxml.jobs.score import scored_files
from cxml.jobs.train import train
from cxml.models.flat_trees import tree_raw_scores
from cxml.scoring import Scorer, scoring_population

TRAIN_CUSTOMERS = 10_000
SCORE = "Scorer.score (models, reasons top 10%, allocation)"
#: the same call with every model's trees alone shipped (kind "boosted"), timed apart
TREES = "Scorer.score, were the trees shipped"
WALK = "cxml's compiled walk, same boosters"


def _bundle(folder: Path) -> Scorer:
    run_simulate(folder / "train", customers=TRAIN_CUSTOMERS, seed=3)
    raw = load_config("pipelines/demo.yaml", data_dir=folder / "train").model_dump()
    raw["cutoffs"]["first"] = "2024-09-01"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained = train(PipelineConfig.model_validate(raw))
    return Scorer(trained.bundle, "bench", "0")


def raw_lightgbm(scorer: Scorer, matrix: np.ndarray) -> None:
    """Each model's booster predicting the matrix, nothing else: no calibration, no blend."""
    for model in scorer.bundle.models.values():
        boosted = model.boosted
        boosted.booster_.predict(matrix, num_iteration=boosted.best_iteration_)


def compiled_walk(scorer: Scorer, matrix: np.ndarray) -> None:
    """The same boosters' raw scores by cxml's compiled walk (models/flat_trees.py), as
    scoring runs them when the trees are shipped; each booster read once before."""
    for model in scorer.bundle.models.values():
        boosted = model.boosted
        tree_raw_scores(boosted.booster_, matrix, boosted.best_iteration_)


def _csv_beside_pandas(scored: pd.DataFrame, folder: Path) -> tuple[float, float, bool]:
    """Seconds to write the list as CSV, cxml's writer and plain pandas, and whether their
    files are the same bytes (the list holds no text a spreadsheet would run)."""
    start = time.perf_counter()
    save_csv(scored, folder / "cxml.csv")
    ours = time.perf_counter() - start
    start = time.perf_counter()
    scored.to_csv(folder / "pandas.csv", index=False)
    theirs = time.perf_counter() - start
    same = (folder / "cxml.csv").read_bytes() == (folder / "pandas.csv").read_bytes()
    return ours, theirs, same


def run(sim: Simulation) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scorer = _bundle(Path(tmp))
        at = sim.config.cutoff
        stages: dict[str, tuple[float, float]] = {}  # wall, CPU seconds

        def timed(name, fn):
            wall, cpu = time.perf_counter(), time.process_time()
            result = fn()
            stages[name] = (time.perf_counter() - wall, time.process_time() - cpu)
            return result

        data = Path(tmp) / "data"
        write_tables({"customers": sim.customers, "events": sim.events}, data)
        tables = timed("reading + cleaning the data dir", lambda: load_data_dir(data).tables)
        events, customers = tables["events"], tables["customers"]
        people = timed("population", lambda: scoring_population(events, customers, at))
        features = timed("features", lambda: scorer.bundle.features(events, people, at))
        bundle = scorer.bundle
        matrix = bundle.encode(features)
        timed("both models", lambda: bundle.probabilities(matrix))
        timed("raw LightGBM, same boosters", lambda: raw_lightgbm(scorer, matrix))
        compiled_walk(scorer, matrix[:10])  # the trees read and numba's code ready
        timed(WALK, lambda: compiled_walk(scorer, matrix))
        log = sim.actions

        def score() -> pd.DataFrame:
            """The list as `cxml score` makes it: allocated under the budget, then framed."""
            return scorer.score(features, at, 0.1, log, per_customer=False).frame().reset_index()

        scored = timed(SCORE, score)
        scored["scored_at"] = pd.Timestamp.now(tz="UTC")
        out = Path(tmp) / "out"
        timed("writing parquet + csv", lambda: write_together(out, scored_files(scored)))
        written = _csv_beside_pandas(scored, Path(tmp))
        kinds = ", ".join(f"{t} {m.kind}" for t, m in bundle.models.items())
        for model in bundle.models.values():  # as a bigger training base may choose them
            model.kind = "boosted"
        timed(TREES, score)
    measured_apart = ("both models", "raw LightGBM, same boosters", WALK, TREES)
    wall = sum(v[0] for k, v in stages.items() if k not in measured_apart)
    cpu = sum(v[1] for k, v in stages.items() if k not in measured_apart)
    n = len(features)
    print("batch scoring (whole active base, one cutoff)")
    print("  load average         {:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg()))
    print(f"  customers scored     {n:>12,} (of {len(customers):,})")
    print(f"  {'stage':<52} {'wall':>7}   {'CPU':>7}")
    for name, (seconds, cpu_seconds) in stages.items():
        print(f"  {name:<52} {seconds:>7.2f} s {cpu_seconds:>7.2f} s")
    print(f"  end to end           {wall:>12.2f} s   (target <= 30 s)")
    print(
        f"  end to end, CPU      {cpu:>12.2f} s   ({cpu * 100_000 / len(customers):.2f} CPU-s per "
        "100k customers; target <= 12)"
    )
    with_trees = cpu - stages[SCORE][1] + stages[TREES][1]
    print(
        f"  end to end, CPU, were the trees shipped {with_trees:>7.2f} s   "
        f"({with_trees * 100_000 / len(customers):.2f} CPU-s per 100k customers)"
    )
    models, raw = stages["both models"][0], stages["raw LightGBM, same boosters"][0]
    print(f"  scoring alone        {n / models:>12,.0f} customers/s (both models; target >= 45k/s)")
    print(
        f"  raw LightGBM         {n / raw:>12,.0f} customers/s "
        f"(cxml's models as shipped at {raw / models:.2f}x its throughput; target >= 3x "
        "compiled)"
    )
    walk, walk_cpu = stages[WALK]
    raw_cpu = stages["raw LightGBM, same boosters"][1]
    print(
        f"  compiled walk        {n / walk:>12,.0f} customers/s (the same boosters' trees at "
        f"{raw / walk:.2f}x raw LightGBM's throughput, {raw_cpu / walk_cpu:.2f}x less CPU; "
        "target >= 3x compiled)"
    )
    print(f"  models chosen        {kinds} (held out: trees, logistic or their blend)")
    print(
        f"  baseline: features   {n / stages['features'][0]:>12,.0f} customers/s "
        f"(ratio scoring/features {stages['features'][0] / models:.1f}x)"
    )
    ours, theirs, same = written
    print(
        f"  the list as CSV      {ours:>12.2f} s   (pandas to_csv {theirs:.2f} s: "
        f"{theirs / ours:.1f}x; the same bytes: {'yes' if same else 'NO'})\n"
    )

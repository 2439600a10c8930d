"""`make bench-spark`: features and scoring for 10k, 100k and 1M simulated customers, local
(pandas, one process) next to Spark local mode (`local[2]`) on the same data and model, then a
projection for 10M and 100M customers from the measured Spark throughput.

Sizes: CXML_SPARK_BENCH_SIZES (default "10000,100000,1000000"). Simulated data dirs are kept in
CXML_SPARK_BENCH_DIR (default: a temporary folder) so a second run skips simulating.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
from tests.service.server import REPO, tracking_env

CUTOFF = pd.Timestamp("2025-06-30", tz="UTC")
TRAIN_CUSTOMERS = 10_000


def _data(root: Path, customers: int) -> Path:
    from cxml.jobs.ingest import run_simulate

    data = root / str(customers)
    if not (data / "events.parquet").exists():
        started = time.perf_counter()
        run_simulate(data, customers=customers, seed=1)
        print(f"  simulated {customers:,} customers in {time.perf_counter() - started:.0f} s")
    return data


def _scorer(root: Path):
    """A model trained on the smallest size, as `make demo` trains (fewer rounds)."""
    from cxml.config import PipelineConfig, load_config
    from cxml.jobs.score import load_scorer
    from cxml.jobs.train import record, train

    data = _data(root, TRAIN_CUSTOMERS)
    raw = load_config(REPO / "pipelines" / "demo.yaml", data_dir=data).model_dump()
    raw["model"] |= {"max_rounds": 300, "early_stopping_rounds": 30}
    config = PipelineConfig.model_validate(raw)
    workdir = root / "mlflow"
    workdir.mkdir(exist_ok=True)
    with tracking_env(workdir, f"sqlite:///{workdir}/mlflow.db"):
        record(train(config), config)
        return load_scorer(config.tracking.model_name, "challenger")


def _local(scorer, data: Path) -> tuple[float, float, int]:
    """Seconds to features (read, clean, features of every customer: what the Spark features
    step does) and for the whole scoring (read, features of the active, score, write)."""
    from cxml.data.io import write_parquet
    from cxml.data.load import load_data_dir
    from cxml.scoring import scoring_population

    started = time.perf_counter()
    loaded = load_data_dir(data)
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    read_s = time.perf_counter() - started
    scorer.bundle.features(events, customers, CUTOFF)
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    population = scoring_population(events, customers, CUTOFF)
    features = scorer.bundle.features(events, population, CUTOFF)
    log = loaded.tables.get("actions")
    scored = scorer.score(features, CUTOFF, 0.1, log, per_customer=False).frame().reset_index()
    with tempfile.TemporaryDirectory() as out:
        write_parquet(scored, Path(out) / "scored.parquet")
    return features_s, read_s + time.perf_counter() - started, len(scored)


def _spark(spark, scorer, data: Path) -> tuple[float, float, int]:
    from cxml.jobs.spark import spark_features, write_parquet_dir
    from cxml.jobs.spark_score import spark_score

    started = time.perf_counter()
    built = spark_features(spark, str(data), CUTOFF, scorer.bundle.feature_config)
    built.features.count()
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    scored, _ = spark_score(spark, scorer, str(data), CUTOFF, 0.1)
    with tempfile.TemporaryDirectory() as out:
        write_parquet_dir(scored, str(Path(out) / "scored"), ["churn_risk_band"])
        rows = len(pd.read_parquet(Path(out) / "scored", columns=["customer_id"]))
    return features_s, time.perf_counter() - started, rows


def run() -> bool:
    """Print the comparison; False (and a line saying why) when Spark cannot run here."""
    from cxml.jobs.spark import session, spark_problem

    problem = spark_problem()
    if problem:
        print(f"spark bench skipped: {problem}")
        return False
    sizes = [
        int(s) for s in os.environ.get("CXML_SPARK_BENCH_SIZES", "10000,100000,1000000").split(",")
    ]
    keep = os.environ.get("CXML_SPARK_BENCH_DIR")
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="cxml-spark-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"Spark local[2] vs local pandas, scoring at {CUTOFF.date()} (data in {root})")
    scorer = _scorer(root)
    spark = session("local[2]")
    rows = []
    for customers in map(int, sizes):
        data = _data(root, customers)
        lf, ls, n = _local(scorer, data)
        sf, ss, m = _spark(spark, scorer, data)
        assert n == m, f"local scored {n} customers, Spark {m}"
        rows.append((customers, n, lf, sf, ls, ss))
        print(
            f"  {customers:>9,} customers ({n:,} active): features local {lf:6.1f} s, "
            f"spark {sf:6.1f} s; scoring end to end local {ls:6.1f} s, spark {ss:6.1f} s "
            f"(spark/local {ss / ls:.1f}x)"
        )
    spark.stop()
    _projection(rows)
    return True


def _projection(rows: list[tuple[int, int, float, float, float, float]]) -> None:
    """Per-core throughput of the largest Spark run, scaled linearly to 10M and 100M customers
    (buckets are independent; the driver's share grows with the customers who get an offer)."""
    customers, _, _, _, _, spark_s = rows[-1]
    per_core = customers / (spark_s * 2)  # local[2]: two cores busy
    print(f"  Spark throughput at {customers:,}: {per_core:,.0f} customers per core-second")
    for target, minutes in ((10_000_000, 15), (100_000_000, 30)):
        cores = math.ceil(target / (per_core * minutes * 60))
        print(
            f"  projection: {target:>11,} customers in {minutes} min needs ~{cores} cores "
            f"(e.g. {math.ceil(cores / 8)} executors x 8 cores), plus the driver's allocation"
        )


def main() -> None:
    """`make bench-spark`: print, then rewrite the Spark section of docs/performance.md."""
    from benchmarks import report

    recorder = report.Recorder()
    with recorder.section("spark", "Spark"):
        ran = run()
    written = report.write(recorder.sections, "make bench-spark") if ran else None
    if written:
        print(f"Spark section written to {written} (CXML_BENCH_DOC=0 to skip)")


if __name__ == "__main__":
    main()

"""Scoring on Spark: `Scorer.score`'s per-customer steps in each customer bucket, and the three
steps that need the whole base (the rank, who is explained, the allocation) between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxml.actions.policy import Allocation
from cxml.actions.recommend import Options, valued
from cxml.config import ExperimentConfig
from cxml.features.table import Table
from cxml.jobs.spark import (
    BUCKET,
    default_buckets,
    pandas_schema,
    read_table,
    session,
    spark_features,
    to_pandas_times,
    use_buckets,
    with_bucket,
    write_parquet_dir,
)
from cxml.scoring.scorer import CustomerPart

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from cxml.config import PipelineConfig

RANK, EXPLAINED = "_rank", "_explained"
CHOSEN = ["action", "expected_gain", "cost", "runner_up", "runner_up_gain"]
#: What the run's randomisation adds to each customer's choice (actions/experiment.py).
DECIDED = ["decision", "policy_action", "propensity", "decision_id"]


@dataclass(frozen=True)
class ScoreJob:
    """The per-bucket halves of `Scorer.score` (what needs no other customer)."""

    scorer: Any  # a Spark broadcast of the Scorer: shipped to each worker once
    at: pd.Timestamp
    feature_columns: list[str]

    def inputs(self, rows: pd.DataFrame, log: pd.DataFrame) -> tuple[Table, Any]:
        features = rows.set_index("customer_id")[self.feature_columns]
        features.index.name = "customer_id"
        actions = None if log.empty else to_pandas_times(log.drop(columns=[BUCKET]), "actions")
        return Table.of(features), actions

    def candidates(self, rows: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
        """Per customer: churn probability and raw score (for the global rank) and, per action,
        value and eligibility (for the global allocation)."""
        scorer = self.scorer.value
        features, actions = self.inputs(rows, log)
        part = scorer.customer_part(features, self.at, actions)
        out = pd.DataFrame(
            {"churn_probability": part.probabilities["churn_probability"], "raw": part.raw},
            index=features.index,
        )
        found = part.options
        if found is not None:
            ranks = found.value if found.ranking is None else found.ranking  # a fallback's
            for j, name in enumerate(found.names):
                out[f"value__{name}"] = ranks[:, j]
                out[f"allowed__{name}"] = found.allowed[:, j]
        return out.reset_index()

    def scored(self, rows: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
        """The scored rows, given each customer's global rank, explanation flag and action."""
        scorer = self.scorer.value
        features, actions = self.inputs(rows, log)
        part = scorer.customer_part(features, self.at, actions)
        chosen = rows.set_index("customer_id")[[c for c in [*CHOSEN, *DECIDED] if c in rows]]
        chosen.index.name = "customer_id"
        chosen = chosen.fillna({"action": "none", "runner_up": "none"}).fillna(0.0)
        chosen = chosen.reindex(features.index)  # aligned with the rows, as assemble takes it
        if part.options is not None and part.options.ranking is not None:
            chosen = valued(Table.of(chosen), part.options).frame()  # the model's gains
        rank = rows[RANK].to_numpy(dtype=np.int64)
        explained = rows[EXPLAINED].to_numpy(dtype=bool)
        scored = scorer.assemble(features, part, self.at, rank, explained, Table.of(chosen))
        return scored.frame_with_ids()


def _ranks(candidates: DataFrame) -> DataFrame:
    """1 = most at risk, ordered as `score.ranks` orders: probability, raw score, then id
    (a distributed sort; the index comes from the sorted partitions' sizes)."""
    from pyspark.sql import functions as F

    ordered = candidates.select("customer_id", "churn_probability", "raw").orderBy(
        F.col("churn_probability").desc(), F.col("raw").desc(), F.col("customer_id").asc()
    )
    indexed = ordered.rdd.map(lambda row: row["customer_id"]).zipWithIndex()
    return indexed.map(lambda pair: (pair[0], pair[1] + 1)).toDF(["customer_id", RANK])


def _chosen(spark: SparkSession, scorer: Any, candidates: DataFrame) -> DataFrame:
    """The budget allocation over the whole base. Only customers with at least one eligible
    action worth more than its cost can receive one, so only they travel to the driver, as a
    values matrix; everyone else gets "none" (as the local allocation gives them)."""
    from pyspark.sql import functions as F

    names = [c.removeprefix("value__") for c in candidates.columns if c.startswith("value__")]
    worth = [F.col(f"allowed__{a}") & (F.col(f"value__{a}") > 0) for a in names]
    if not names:
        return spark.createDataFrame([], "customer_id string")
    any_worth = worth[0]
    for more in worth[1:]:
        any_worth = any_worth | more
    worthwhile: pd.DataFrame = candidates.filter(any_worth).toPandas()
    local = worthwhile.set_index("customer_id")
    values = local[[f"value__{a}" for a in names]].to_numpy(dtype=float, na_value=np.nan)
    allowed = local[[f"allowed__{a}" for a in names]].to_numpy(dtype=bool, na_value=False)
    found = Options(
        local.index, names, np.full_like(values, np.nan), values, allowed, np.zeros(len(local))
    )
    chosen = scorer.allocate(found, per_customer=False).frame_with_ids()
    schema = "customer_id string, action string, expected_gain double, cost double, " + (
        "runner_up string, runner_up_gain double"
    )
    return spark.createDataFrame(chosen[["customer_id", *CHOSEN]], schema)


def _randomised(
    spark: SparkSession,
    scorer: Any,
    candidates: DataFrame,
    chosen: DataFrame,
    at: pd.Timestamp,
    experiment: ExperimentConfig,
) -> DataFrame:
    """The allocation with the run's control group and exploration (`Scorer.randomised`, as
    the local engine draws them): every customer's band and eligibility go to the driver."""
    names = [c.removeprefix("value__") for c in candidates.columns if c.startswith("value__")]
    wanted = ["customer_id", "churn_probability"]
    wanted += [f"value__{a}" for a in names] + [f"allowed__{a}" for a in names]
    collected: pd.DataFrame = candidates.select(*wanted).toPandas()
    everyone = collected.set_index("customer_id")
    allocated: pd.DataFrame = chosen.toPandas()
    picked = allocated.set_index("customer_id").reindex(everyone.index)
    picked = picked.fillna({"action": "none", "runner_up": "none"}).fillna(0.0)
    values = everyone[[f"value__{a}" for a in names]].to_numpy(dtype=float, na_value=np.nan)
    allowed = everyone[[f"allowed__{a}" for a in names]].to_numpy(dtype=bool, na_value=False)
    n = len(everyone)
    found = Options(
        everyone.index, names, np.full_like(values, np.nan), values, allowed, np.zeros(n)
    )
    risk = {"churn_probability": everyone["churn_probability"].to_numpy(dtype=float)}
    part = CustomerPart(np.empty((n, 0)), risk, np.zeros(n), found)
    allocation = Allocation(everyone.index, {c: picked[c].to_numpy() for c in CHOSEN}, "")
    done = scorer.randomised(allocation, part, at, experiment).frame_with_ids()
    schema = "customer_id string, action string, expected_gain double, cost double, " + (
        "runner_up string, runner_up_gain double, decision string, policy_action string, "
        "propensity double, decision_id string"
    )
    return spark.createDataFrame(done[["customer_id", *CHOSEN, *DECIDED]], schema)


def spark_score(
    spark: SparkSession,
    scorer: Any,
    data_dir: str,
    at: pd.Timestamp,
    explain_top: float | None = 0.1,
    buckets: int | None = None,
    experiment: ExperimentConfig | None = None,
) -> tuple[DataFrame, DataFrame]:
    """`Scorer.score` for everyone active at `at`: (scored rows, quarantined rows); with
    `experiment`, the control group and exploration of a run, as the local engine draws them."""
    import math

    from pyspark.sql import functions as F

    pii = scorer.bundle.feature_config.pii_columns
    customers = read_table(spark, data_dir, "customers", pii)
    assert customers is not None  # a required table: absent raises
    n = use_buckets(spark, buckets or default_buckets(spark, customers.count()))
    bundle = scorer.bundle
    built = spark_features(spark, data_dir, at, bundle.feature_config, n, bundle.labels)
    features = with_bucket(built.features, n).cache()
    log = read_table(spark, data_dir, "actions", pii)
    if log is None:
        log = spark.createDataFrame([], "customer_id string, action_time long, action string")
    logs = with_bucket(log, n).groupBy(BUCKET)
    job = ScoreJob(spark.sparkContext.broadcast(scorer), at, scorer.bundle.feature_names)

    sample: pd.DataFrame = features.limit(
        20
    ).toPandas()  # the output schemas, from the same functions
    empty_log = pd.DataFrame({BUCKET: pd.Series([], dtype=int)})
    first = job.candidates(sample, empty_log)
    candidates = (
        features.groupBy(BUCKET)
        .cogroup(logs)
        .applyInPandas(lambda f, a: job.candidates(f, a), pandas_schema(first))
        .cache()
    )
    total = candidates.count()
    top = total if explain_top is None else math.ceil(round(explain_top * total, 9))
    ranked = _ranks(candidates).withColumn(EXPLAINED, F.col(RANK) <= F.lit(top))
    chosen = _chosen(spark, scorer, candidates)
    randomise = experiment is not None and any(c.startswith("value__") for c in candidates.columns)
    if randomise:
        assert experiment is not None
        chosen = _randomised(spark, scorer, candidates, chosen, at, experiment)
    rows = features.join(ranked, "customer_id").join(chosen, "customer_id", "left")

    probe = sample.assign(**{RANK: 1, EXPLAINED: True}).assign(
        action="none", expected_gain=0.0, cost=0.0, runner_up="none", runner_up_gain=0.0
    )
    if randomise:
        probe = probe.assign(
            decision="policy", policy_action="none", propensity=1.0, decision_id="x"
        )
    shape = pandas_schema(job.scored(probe, empty_log))
    scored = rows.groupBy(BUCKET).cogroup(logs).applyInPandas(lambda f, a: job.scored(f, a), shape)
    return scored, built.quarantine


@dataclass(frozen=True)
class SparkScoreSummary:
    customers: int
    high_risk: int
    expected_churners: float
    treated: int
    spent: float
    quarantined: int
    written: list[str]


def run_spark_score(
    config: PipelineConfig,
    cutoff: str,
    out: str,
    ref: str = "champion",
    explain_top: float | None = 0.1,
    master: str | None = None,
    buckets: int | None = None,
) -> SparkScoreSummary:
    """`cxml score --engine spark`: the scored list as Parquet partitioned by risk band, under
    `out`/scored (and faulty input rows under `out`/quarantine), recorded in the registry of
    scorings as a local run is. The HTML report reads the whole list into one process, so it
    stays with the local engine."""
    from pyspark.sql import functions as F

    from cxml.data.schema import utc_timestamp
    from cxml.jobs.score import load_scorer
    from cxml.jobs.scorings import KEPT, register

    at = utc_timestamp(cutoff)
    scorer = load_scorer(config.tracking.model_name, ref)
    spark = session(master)
    scored, bad = spark_score(
        spark, scorer, str(config.data.dir), at, explain_top, buckets, config.experiment
    )
    scored = scored.withColumn("scored_at", F.lit(pd.Timestamp.now(tz="UTC").to_pydatetime()))
    root = out.rstrip("/")
    written = [write_parquet_dir(scored, f"{root}/scored", ["churn_risk_band"])]
    quarantined = bad.count()
    if quarantined:
        written.append(write_parquet_dir(bad, f"{root}/quarantine"))
    kept = spark.read.parquet(f"{root}/scored")
    totals = kept.agg(
        F.count("*").alias("n"),
        F.sum((F.col("churn_risk_band") == "high").cast("int")).alias("high"),
        F.sum("churn_probability").alias("churners"),
        F.sum((F.col("action") != "none").cast("int")).alias("treated"),
        F.sum("action_cost").alias("spent"),
    ).first()
    assert totals is not None
    named = [c for c in [*KEPT, "model_name", "model_version"] if c in kept.columns]
    rows: pd.DataFrame = kept.select(*named).toPandas()  # a few columns each, for the registry
    register(config, rows.assign(cutoff=pd.to_datetime(rows["cutoff"], utc=True)), root)
    return SparkScoreSummary(
        int(totals["n"]),
        int(totals["high"] or 0),
        float(totals["churners"] or 0.0),
        int(totals["treated"] or 0),
        float(totals["spent"] or 0.0),
        quarantined,
        written,
    )

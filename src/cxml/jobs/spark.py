"""Scale-out on Apache Spark: the very same features and scoring, one customer bucket at a time.

Every customer's rows (profile, attribute history, events, logged actions) are sent to one bucket
by a hash of their id, and each bucket runs the local pandas functions unchanged: `clean_table`,
`as_of` and `build_features` through `cogroup(...).applyInPandas`, and the scorer's per-customer
steps likewise. (A cogroup takes two sides, so the attribute history travels with the profiles:
its rows are unioned into the customers side under prefixed column names and split off again
in the bucket.) Only three
steps need the whole base, and each is reduced to something small first: the risk rank (a
distributed sort), which rows to explain (the rank of the k-th riskiest), and the budget
allocation (only customers with a worthwhile eligible action reach the driver, as a matrix of
values; see docs/spark.md for the bound and the threshold pass beyond it).

With jobs/spark_score.py, the only modules that import pyspark, an optional extra: `cxml[spark]`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cxml.config import FeatureConfig, LabelConfig
from cxml.data.io import replace_dir
from cxml.data.schema import TABLES, ContractError
from cxml.data.validate import (
    clean_table,
    numeric_attributes,
    read_as_pii,
    usable_attributes,
)
from cxml.features.attributes import as_of
from cxml.features.build import build_features

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


DEFAULT_MASTER = "local[2]"
MIN_JAVA = 17
BUCKET = "_bucket"
REASON = "_quarantine_reason"
TABLE = "_quarantine_table"
HISTORY = "_attributes__"  # prefix of the attribute history's columns on the customers side
HISTORY_ROW = HISTORY + "_row"  # true on the rows of the attribute history

#: Timestamps travel as int64 UTC nanoseconds: exact, and Parquet written by pandas (nanosecond
#: timestamps) is readable this way, which Spark's own timestamp type (microseconds) refuses.
SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def spark_problem() -> str | None:
    """Why Spark cannot run here (in words a user can act on), or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install 'cxml[spark]'"
    java = shutil.which("java", path=_java_path())
    if java is None:
        return f"Spark needs Java {MIN_JAVA} or newer and no `java` was found: install a JDK"
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{java} -version` failed ({exc}): check the Java install"
    version = _java_major(shown.stderr + shown.stdout)
    if version is None or version < MIN_JAVA:
        return f"Spark 4 needs Java {MIN_JAVA} or newer; `{java} -version` says {version}"
    return None


def _java_path() -> str | None:
    home = os.environ.get("JAVA_HOME")
    return os.pathsep.join([str(Path(home) / "bin"), os.environ.get("PATH", "")]) if home else None


def _java_major(text: str) -> int | None:
    """17 from 'openjdk version "17.0.15"', 8 from 'java version "1.8.0_392"'."""
    for part in text.split('"')[1::2]:
        numbers = part.split(".")
        if numbers[0].isdigit():
            major = int(numbers[0])
            return int(numbers[1]) if major == 1 and len(numbers) > 1 else major
    return None


def session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """A Spark session for cxml: `master` from the argument, else SPARK_MASTER, else local[2].
    Workers run this very interpreter (its packages are the ones cxml was installed with)."""
    problem = spark_problem()
    if problem:
        raise RuntimeError(problem)
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("cxml").master(
        master or os.environ.get("SPARK_MASTER", DEFAULT_MASTER)
    )
    for key, value in {**SPARK_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read_table(
    spark: SparkSession, data_dir: str, table: str, pii_columns: Iterable[str] = ()
) -> DataFrame | None:
    """`<data_dir>/<table>.parquet` (a file or a folder of parts, on any path Spark reads), with
    contract timestamps as int64 UTC nanoseconds and its `pii_columns` left out, as the local
    reader leaves them (`read_as_pii`); None when an optional table is absent."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType, TimestampType

    path = f"{data_dir.rstrip('/')}/{table}.parquet"
    try:
        frame = spark.read.parquet(path)
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" not in str(exc) and "does not exist" not in str(exc):
            raise ContractError(f"{path}: not readable as Parquet by Spark ({exc})") from exc
        if TABLES[table].required:
            raise ContractError(f"{path}: the required table '{table}' is missing") from exc
        return None
    pandas_index = [c for c in frame.columns if c.startswith("__index_level_")]
    frame = frame.drop(*pandas_index)  # a row index pandas saved, which pandas reads back as such
    frame = frame.drop(*[c for c in frame.columns if read_as_pii(table, c, pii_columns)])
    times = {c.name for c in TABLES[table].columns if c.kind == "timestamp"}
    for field in frame.schema.fields:
        if field.name in times and isinstance(field.dataType, (TimestampType, TimestampNTZType)):
            frame = frame.withColumn(field.name, F.unix_micros(F.col(field.name)) * 1000)
    return frame


def with_bucket(frame: DataFrame, buckets: int) -> DataFrame:
    """A bucket per customer id: all of one customer's rows meet in one pandas call."""
    from pyspark.sql import functions as F

    key = F.xxhash64(F.col("customer_id").cast("string"))
    return frame.withColumn(BUCKET, F.pmod(key, F.lit(buckets)).cast("int"))


def to_pandas_times(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """int64 nanoseconds back to UTC timestamps, as the local reader gives them."""
    for column in (c.name for c in TABLES[table].columns if c.kind == "timestamp"):
        if column in frame and pd.api.types.is_integer_dtype(frame[column].dtype):
            frame[column] = pd.to_datetime(frame[column], unit="ns", utc=True)
        elif column in frame and pd.api.types.is_float_dtype(frame[column].dtype):  # had nulls
            frame[column] = pd.to_datetime(frame[column].astype("Int64"), unit="ns", utc=True)
    return frame


@dataclass(frozen=True)
class FeatureJob:
    """What every bucket needs to build its features (pickled once to the workers)."""

    cutoff: pd.Timestamp
    config: FeatureConfig
    columns: list[str]  # output order: customer_id, the features, the quarantine columns
    numeric: frozenset[str]
    population: LabelConfig | None = None  # scoring: only the population of these labels
    since: pd.Timestamp | None = None  # where the whole event log starts (not the bucket's)
    attributes: tuple[str, ...] = ()  # every attribute the history names (as_of's `names`)

    def __call__(self, events: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
        profiles, history = split_history(customers.drop(columns=[BUCKET]))
        customers = clean_table(
            "customers",
            to_pandas_times(profiles, "customers"),
            "customers.parquet",
            pii_columns=self.config.pii_columns,
        )
        known = pd.Index(customers.clean["customer_id"].astype(object))
        events = clean_table(
            "events",
            to_pandas_times(events.drop(columns=[BUCKET]), "events"),
            "events.parquet",
            known,
            self.config.pii_columns,
        )
        results = [customers, events]
        if history is not None:
            numeric = numeric_attributes(customers.clean)
            raw = to_pandas_times(history, "attributes")
            pii = self.config.pii_columns
            results.append(
                clean_table("attributes", raw, "attributes.parquet", known, pii, numeric)
            )
        people = customers.clean
        if self.population is not None:
            from cxml.scoring import scoring_population

            people = scoring_population(events.clean, people, self.cutoff, self.population)
        attributes = results[2].clean if len(results) > 2 else None
        people = as_of(people, attributes, self.cutoff, self.attributes)
        features = build_features(  # one thread: Spark already runs a task per core
            events.clean, people, self.cutoff, self.config, self.since, threads=1
        )
        out = features.frame().reset_index()
        out[REASON] = None
        out[TABLE] = None
        bad = [_quarantined(r.quarantine, r.table) for r in results]
        return self.conform(pd.concat([out, *bad], ignore_index=True))

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The schema's column order and types, whatever a bucket's values happened to be."""
        frame = frame.reindex(columns=self.columns)
        for column in self.columns:
            if column in self.numeric:
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
            else:
                values = frame[column].astype(object)
                frame[column] = values.where(values.notna(), None).map(_text)
        return frame


def with_history(customers: DataFrame, history: DataFrame | None) -> DataFrame:
    """The customers frame with the attribute history's rows unioned in (its columns prefixed,
    `customer_id` shared so each row lands in its customer's bucket)."""
    if history is None:
        return customers
    from pyspark.sql import functions as F

    id_type = customers.schema["customer_id"].dataType
    renamed = history.select(
        F.col("customer_id").cast(id_type).alias("customer_id"),
        *(F.col(c).alias(HISTORY + c) for c in history.columns if c != "customer_id"),
        F.lit(True).alias(HISTORY_ROW),
    )
    return customers.unionByName(renamed, allowMissingColumns=True)


def split_history(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A bucket's customers side as (profiles, attribute history rows or None)."""
    if HISTORY_ROW not in rows:
        return rows, None
    prefixed = [c for c in rows.columns if str(c).startswith(HISTORY) and c != HISTORY_ROW]
    is_history = rows[HISTORY_ROW].fillna(False).to_numpy(dtype=bool)
    profiles = rows.loc[~is_history].drop(columns=[*prefixed, HISTORY_ROW])
    history = rows.loc[is_history, ["customer_id", *prefixed]]
    history = history.rename(columns=lambda c: str(c).removeprefix(HISTORY))
    return profiles.reset_index(drop=True), history.reset_index(drop=True)


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _quarantined(rows: pd.DataFrame, table: str) -> pd.DataFrame:
    """Faulty rows as (customer_id, reason, table): counted and kept, never silently dropped."""
    ids = rows["customer_id"] if "customer_id" in rows else pd.Series(None, index=rows.index)
    return pd.DataFrame({"customer_id": ids, REASON: rows["reason"], TABLE: table})


def pandas_schema(frame: pd.DataFrame) -> Any:
    """The Spark schema of a pandas frame's columns, by dtype."""
    from pyspark.sql.types import (
        BooleanType,
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    def kind(dtype: Any) -> Any:
        if pd.api.types.is_bool_dtype(dtype):
            return BooleanType()
        if pd.api.types.is_integer_dtype(dtype):
            return LongType()
        if pd.api.types.is_float_dtype(dtype):
            return DoubleType()
        if isinstance(dtype, pd.DatetimeTZDtype):
            return TimestampType()
        return StringType()

    return StructType([StructField(c, kind(frame[c].dtype), True) for c in frame.columns])


def feature_job(
    customers: DataFrame,
    cutoff: pd.Timestamp,
    config: FeatureConfig,
    population: LabelConfig | None = None,
    attributes: tuple[str, ...] = (),
) -> tuple[FeatureJob, Any]:
    """The bucket function and its Spark schema, read off the features of a few customers (a
    profile column is numeric in every bucket exactly when it is in this sample; `attributes`:
    the names the attribute history holds, which `as_of` gives a column each)."""
    sample = to_pandas_times(customers.limit(100).toPandas(), "customers")
    clean = clean_table("customers", sample, "customers.parquet").clean
    clean = as_of(clean, None, cutoff, attributes)
    empty = pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype=object),
            "event_time": pd.Series([], dtype="datetime64[ns, UTC]"),
            "event_type": pd.Series([], dtype=object),
        }
    )
    shape = build_features(empty, clean, cutoff, config).frame().reset_index()
    numeric = frozenset(c for c in shape.columns if pd.api.types.is_float_dtype(shape[c].dtype))
    shape = shape.assign(**{REASON: None, TABLE: None})  # texts, set on quarantined rows only
    job = FeatureJob(
        cutoff, config, list(shape.columns), numeric, population, attributes=attributes
    )
    return job, pandas_schema(shape)


@dataclass
class SparkFeatures:
    """Features (one row per clean customer) and the quarantined rows, as Spark frames."""

    features: DataFrame
    quarantine: DataFrame


def spark_features(
    spark: SparkSession,
    data_dir: str,
    cutoff: pd.Timestamp,
    config: FeatureConfig | None = None,
    buckets: int | None = None,
    population: LabelConfig | None = None,
) -> SparkFeatures:
    """`build_features` at `cutoff` for every customer in `data_dir` (`population`: only the
    population of these labels at the cutoff, as scoring takes), bucket by bucket. Every
    event row is cleaned, so faulty rows are quarantined as the local reader does, whatever
    their time."""
    from pyspark.sql import functions as F

    cfg = config or FeatureConfig()
    customers = read_table(spark, data_dir, "customers", cfg.pii_columns)
    events = read_table(spark, data_dir, "events", cfg.pii_columns)
    assert customers is not None and events is not None  # required tables raise when absent
    history = read_table(spark, data_dir, "attributes", cfg.pii_columns)
    names: tuple[str, ...] = ()
    if history is not None:  # (a name all of whose rows are quarantined still gets its column)
        missing = [c for c in TABLES["attributes"].required_columns if c not in history.columns]
        if missing:
            raise ContractError(
                f"attributes.parquet: required column(s) {', '.join(missing)} missing; "
                "see the data contract in docs/data-contract.md"
            )
        found = [r[0] for r in history.select("attribute").distinct().collect()]
        names = tuple(usable_attributes(found, cfg.pii_columns))
    n = use_buckets(spark, buckets or default_buckets(spark, customers.count()))
    job, schema = feature_job(customers, cutoff, cfg, population, names)
    job = replace(job, since=_log_start(events))
    by_customer = with_bucket(with_history(customers, history), n).groupBy(BUCKET)
    grouped = with_bucket(events, n).groupBy(BUCKET).cogroup(by_customer)
    rows = grouped.applyInPandas(lambda e, c: job(e, c), schema).cache()  # Spark reads the arity
    kept = rows.filter(F.col(REASON).isNull()).drop(REASON, TABLE)
    bad = rows.filter(F.col(REASON).isNotNull()).select(
        F.col(TABLE).alias("table"), "customer_id", F.col(REASON).alias("reason")
    )
    return SparkFeatures(kept, bad)


def _log_start(events: DataFrame) -> pd.Timestamp | None:
    """The first event time of the whole log (int64 UTC nanoseconds in Spark), as `log_start`
    gives it locally."""
    from pyspark.sql import functions as F

    first = events.agg(F.min("event_time")).first()
    if first is None or first[0] is None:
        return None
    return pd.Timestamp(int(first[0]), unit="ns", tz="UTC")


CUSTOMERS_PER_BUCKET = 50_000  # a bucket's pandas frames stay around a GB at ~60 events each


def default_buckets(spark: SparkSession, customers: int) -> int:
    """A few buckets per core, so one slow bucket does not hold up the rest, and enough that
    each stays small in memory."""
    cores = int(spark.sparkContext.defaultParallelism)
    return max(4, 4 * cores, -(-customers // CUSTOMERS_PER_BUCKET))


def use_buckets(spark: SparkSession, buckets: int) -> int:
    """One shuffle partition per bucket: each bucket is one task (Spark's default of 200
    partitions would start 200 Python tasks, most of them empty)."""
    spark.conf.set("spark.sql.shuffle.partitions", str(buckets))
    return buckets


def write_parquet_dir(frame: DataFrame, target: str, partition_by: list[str] | None = None) -> str:
    """Partitioned Parquet; on a local path the folder is replaced atomically."""
    writer = lambda path: frame.write.mode("overwrite").parquet(  # noqa: E731
        str(path), partitionBy=partition_by or None, compression="zstd"
    )
    if "://" in target and not target.startswith("file://"):
        writer(target)  # object stores and HDFS: Spark's committer publishes the result
    else:
        replace_dir(Path(target.removeprefix("file://")), writer)
    return target


def run_spark_features(
    data_dir: str, cutoff: str, out: str, master: str | None = None, buckets: int | None = None
) -> tuple[int, int]:
    """`cxml features --engine spark`: write the features; returns (customers, quarantined)."""
    from cxml.data.schema import utc_timestamp

    spark = session(master)
    built = spark_features(spark, data_dir, utc_timestamp(cutoff), buckets=buckets)
    write_parquet_dir(built.features, out)
    bad = built.quarantine.count()
    if bad:
        write_parquet_dir(built.quarantine, f"{out.rstrip('/')}.quarantine")
    return built.features.count(), bad


def collect_sorted(frame: DataFrame, key: str = "customer_id") -> pd.DataFrame:
    """A small Spark frame as pandas, in `key` order (for tests and notebooks)."""
    out: pd.DataFrame = frame.toPandas()
    return out.sort_values(key, kind="stable").reset_index(drop=True)


# --- scoring ---------------------------------------------------------------------------------

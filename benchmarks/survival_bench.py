"""make survival-bench: when customers churn, cxml's hazard model beside Kaplan–Meier and Cox.

Out of time on each set: the models learn from the monthly cutoffs before a test cutoff, their
churn times censored at it (nothing after it is seen), and are judged on the customers at the
test cutoff, followed to the end of the data. Same rows, same features, same run:
- Harrell's C with inverse-probability-of-censoring weights (Uno) at the last time judged;
- the integrated Brier score over the grid's period ends up to it (lower is better);
- cxml − baseline with a 95% bootstrap interval over the test customers.
Kaplan–Meier gives everyone the same curve, so its C is 0.5 by construction: it is the floor
the Brier score must beat. Cox is scikit-survival's, ridge-penalised, on the numeric features
(median-imputed, standardised).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_ipcw, integrated_brier_score
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from benchmarks import report
from benchmarks.real_bench import PIPELINES, RETAIL_SOURCE, shared_data_dir, with_source
from cxml.config import PipelineConfig, load_config
from cxml.features.dataset import monthly_cutoffs
from cxml.features.labels import churn_times_of
from cxml.jobs.ingest import run_simulate
from cxml.jobs.inputs import load_inputs
from cxml.jobs.train import training_frame
from cxml.models.backtest import customer_buckets, feature_part
from cxml.models.survival import Grid, HazardModel, survival_at
from cxml.models.train import FrameEncoder

N_BOOT = 200
MODELS = ("cxml", "Cox", "Kaplan–Meier")


@dataclasses.dataclass
class Survival:
    """Each model's survival at `times` for the test rows (rows x times), and the risk it
    ranks them by for the C-index (higher: churns sooner)."""

    times: np.ndarray
    curves: dict[str, np.ndarray]
    risks: dict[str, np.ndarray]
    event: np.ndarray
    duration: np.ndarray
    notes: list[str]


def fit_and_predict(
    config: PipelineConfig, test_cutoff: pd.Timestamp, grid: Grid = Grid()
) -> Survival:
    """Every model fitted on the cutoffs before `test_cutoff` and predicted at it."""
    loaded = load_inputs(config, write=False)
    events = loaded.tables["events"]
    end = events["event_time"].max()
    first = pd.Timestamp(config.cutoffs.first, tz="UTC")
    cutoffs = [c for c in monthly_cutoffs(first, test_cutoff) if c < test_cutoff]
    frame = training_frame(config, loaded, [*cutoffs, test_cutoff])
    at = frame.index.get_level_values("cutoff")
    train, test = frame[at < test_cutoff], frame[at == test_cutoff]
    y_train = churn_times_of(train.index, events, test_cutoff, config.labels)  # none after it
    y_test = churn_times_of(test.index, events, end, config.labels)
    follow = float(y_test.loc[~y_test["event"], "duration_days"].min())
    seen = float(y_train["duration_days"].max())  # no model knows past what training saw
    times = grid.ends[(grid.ends < min(follow, seen))]
    if len(times) < 2:
        raise RuntimeError(f"{config.name}: too little follow-up around {test_cutoff.date()}")

    encoder = FrameEncoder().fit(feature_part(train))
    x_train, x_test = encoder.transform(feature_part(train)), encoder.transform(feature_part(test))
    d_train, e_train = y_train["duration_days"].to_numpy(), y_train["event"].to_numpy()
    hazard = HazardModel.fit(
        x_train, d_train, e_train, customer_buckets(train.index, 10) == 0, config.model, grid
    )
    cxml_curve = survival_at(hazard.survival(x_test), grid, times)

    numeric = [j for j, c in enumerate(encoder.columns_) if c not in encoder.levels_]
    cox = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        VarianceThreshold(),
        StandardScaler(),
        CoxPHSurvivalAnalysis(alpha=1.0, ties="efron"),
    )
    fitted = np.maximum(d_train, 0.5)  # a churn on the cutoff's own day
    cox.fit(x_train[:, numeric], Surv.from_arrays(e_train, fitted))
    functions = cox.predict_survival_function(x_test[:, numeric])
    cox_curve = np.vstack([fn(times) for fn in functions])

    km_times, km_surv = kaplan_meier_estimator(e_train, fitted)
    km = np.array([km_surv[np.searchsorted(km_times, t, side="right") - 1] for t in times])
    km_curve = np.tile(km, (len(test), 1))
    curves = {"cxml": cxml_curve, "Cox": cox_curve, "Kaplan–Meier": km_curve}
    risks = {
        "cxml": -cxml_curve.mean(axis=1),  # who churns sooner: the shorter expected time
        "Cox": cox.predict(x_test[:, numeric]),
        "Kaplan–Meier": np.zeros(len(test)),
    }
    churned = y_test["event"] & (y_test["duration_days"] <= times[-1])
    notes = [
        f"{len(cutoffs)} training cutoffs {cutoffs[0].date()} … {cutoffs[-1].date()} "
        f"({len(train):,} rows, {int(e_train.sum()):,} churns seen before the test cutoff); "
        f"test cutoff {test_cutoff.date()}: {len(test):,} customers followed "
        f"{follow:.0f} days, {churned.mean():.1%} churned within {times[-1]:.0f} "
        f"(training followed up to {seen:.0f} days)",
        f"cxml: {hazard.rounds} rounds on {grid.n} periods of {grid.days:.1f} days; "
        f"Cox on {len(numeric)} numeric features",
    ]
    return Survival(
        times=times,
        curves=curves,
        risks=risks,
        event=y_test["event"].to_numpy(),
        duration=np.maximum(y_test["duration_days"].to_numpy(), 0.5),
        notes=notes,
    )


def scores(s: Survival, rows: np.ndarray) -> dict[str, tuple[float, float]]:
    """(C-index, integrated Brier score) per model on `rows` of the test set; the censoring
    distribution is the test rows' own (every censoring there is the data's end)."""
    y = Surv.from_arrays(s.event[rows], s.duration[rows])
    tau = float(s.times[-1])
    out = {}
    for name in MODELS:
        c = concordance_index_ipcw(y, y, s.risks[name][rows], tau=tau)[0]
        ibs = integrated_brier_score(y, y, s.curves[name][rows], s.times)
        out[name] = (float(c), float(ibs))
    return out


def judge(s: Survival, n_boot: int = N_BOOT, seed: int = 7) -> list[str]:
    """Each model's C and IBS, and cxml − each baseline with 95% bootstrap intervals."""
    n = len(s.event)
    point = scores(s, np.arange(n))
    rng = np.random.default_rng(seed)
    draws = [scores(s, rng.integers(0, n, n)) for _ in range(n_boot)]
    lines = [
        f"  {name:<13} C-index {c:.3f}   integrated Brier {ibs:.4f}"
        for name, (c, ibs) in point.items()
    ]
    for base in MODELS[1:]:
        for k, metric in enumerate(("C-index", "integrated Brier")):
            diff = np.array([d["cxml"][k] - d[base][k] for d in draws])
            low, high = np.percentile(diff, [2.5, 97.5])
            now = point["cxml"][k] - point[base][k]
            lines.append(f"  cxml − {base:<13} {metric:<17} {now:+.4f} [{low:+.4f}, {high:+.4f}]")
    return lines


def simulated(workdir: Path) -> PipelineConfig:
    data = workdir / "simulated"
    run_simulate(data, customers=5000, seed=11)
    return load_config(PIPELINES / "demo.yaml", data_dir=data)


def online_retail(workdir: Path) -> PipelineConfig | None:
    source = shared_data_dir() / RETAIL_SOURCE
    if not source.is_file():
        return None
    config = load_config(PIPELINES / "online_retail.yaml", data_dir=workdir / "online_retail")
    return with_source(config, source)


#: (name, how its config is made, the test cutoff: the latest with about half a year after it)
SETS: list[tuple[str, Callable[[Path], PipelineConfig | None], str]] = [
    ("simulator (5,000 customers, seed 11)", simulated, "2025-03-01"),
    ("UCI Online Retail", online_retail, "2011-06-01"),
]


def main() -> None:
    start = time.perf_counter()
    recorder = report.Recorder()
    with recorder.section("survival", "Time to churn: cxml beside Kaplan–Meier and Cox"):
        print(__doc__.split("\n\n", 1)[1].strip() + "\n")
        with tempfile.TemporaryDirectory(prefix="cxml-survival-") as tmp:
            for name, make, cutoff in SETS:
                config = make(Path(tmp))
                if config is None:
                    print(f"{name}: skipped, not found (set CXML_SHARED_DATA)\n")
                    continue
                s = fit_and_predict(config, pd.Timestamp(cutoff, tz="UTC"))
                span = f"{s.times[0]:.0f} to {s.times[-1]:.0f} days"
                print(f"{name}: judged at {len(s.times)} times, {span}")
                for note in s.notes:
                    print(f"  {note}")
                for line in judge(s):
                    print(line)
                print()
        print(f"wall time {time.perf_counter() - start:.0f} s")
    written = report.write(recorder.sections, "make survival-bench")
    if written:
        print(f"written to {written} (CXML_BENCH_DOC=0 to skip)")


if __name__ == "__main__":
    main()

"""make clv-bench: what customers will spend, predicted out of time on UCI Online Retail.

At a test cutoff, each customer cxml scores (a purchase in the 90 days before it) gets a
prediction of their spend over the next 91 days, checked against what they then spent:
- last period's spend: what they spent in the 91 days before the cutoff;
- BG/NBD + Gamma-Gamma, plain: fitted on every buyer's purchases before the cutoff (weeks);
- cxml: LightGBM (Tweedie) on cxml's point-in-time features, fitted on the monthly cutoffs
  whose 91-day window closes by the test cutoff.
Per-customer mean absolute error, the total against the actual total, and the top decile's
capture (the share of the actual spend by the 10% predicted to spend most); cxml − baseline
with 95% bootstrap intervals over the customers.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import report
from benchmarks.real_bench import PIPELINES, RETAIL_SOURCE, shared_data_dir, with_source
from cxml.config import PipelineConfig, load_config
from cxml.features.dataset import monthly_cutoffs
from cxml.features.labels import spend_between
from cxml.jobs.inputs import load_inputs
from cxml.jobs.train import training_frame
from cxml.models.backtest import customer_buckets, feature_part
from cxml.models.future_spend import SpendModel
from cxml.models.repeat_buyers import fit_bgnbd, fit_gamma_gamma, rfm_summary
from cxml.models.train import FrameEncoder

TEST_CUTOFF = pd.Timestamp("2011-09-01", tz="UTC")  # its window closes before the data ends
WINDOW_DAYS = 91
N_BOOT = 500
CXML, LAST, BTYD = "cxml", "last period's spend", "BG/NBD + Gamma-Gamma"


def capture(actual: np.ndarray, predicted: np.ndarray, share: float = 0.1) -> float:
    """The share of all actual spend made by the `share` of customers predicted highest."""
    top = np.argsort(-predicted, kind="stable")[: max(1, round(share * len(predicted)))]
    total = actual.sum()
    return float(actual[top].sum() / total) if total > 0 else float("nan")


def predictions(config: PipelineConfig) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """(actual spend, each model's predicted spend, notes), on cxml's rows at the test cutoff."""
    loaded = load_inputs(config, write=False)
    events = loaded.tables["events"]
    window = pd.Timedelta(days=WINDOW_DAYS)
    first = pd.Timestamp(config.cutoffs.first, tz="UTC")
    cutoffs = [c for c in monthly_cutoffs(first, TEST_CUTOFF) if c + window <= TEST_CUTOFF]
    frame = training_frame(config, loaded, [*cutoffs, TEST_CUTOFF])
    at = frame.index.get_level_values("cutoff")
    train, test = frame[at < TEST_CUTOFF], frame[at == TEST_CUTOFF]
    spend = pd.concat(
        [
            spend_between(events, rows.index.get_level_values("customer_id"), c, c + window)
            for c, rows in train.groupby(level="cutoff", sort=False)
        ]
    ).to_numpy()
    ids = pd.Index(test.index.get_level_values("customer_id"), dtype=object)
    actual = spend_between(events, ids, TEST_CUTOFF, TEST_CUTOFF + window).to_numpy()
    last = spend_between(events, ids, TEST_CUTOFF - window, TEST_CUTOFF).to_numpy()

    encoder = FrameEncoder().fit(feature_part(train))
    held = customer_buckets(train.index, 10) == 0
    model = SpendModel.fit(encoder.transform(feature_part(train)), spend, held, config.model)
    cxml = model.predict(encoder.transform(feature_part(test)))

    bought = events[events["event_type"] == "purchase"]
    summary = rfm_summary(bought["customer_id"], bought["event_time"], bought["value"], TEST_CUTOFF)
    bgnbd = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    gamma = fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    mine = summary.reindex(ids)
    purchases = bgnbd.expected_purchases(
        WINDOW_DAYS / 7, mine["frequency"], mine["recency"], mine["T"]
    )
    btyd = purchases * gamma.expected_value(mine["frequency"], mine["monetary_value"])
    notes = [
        f"test cutoff {TEST_CUTOFF.date()}: {len(ids):,} customers, {(actual > 0).mean():.1%} "
        f"bought in the next {WINDOW_DAYS} days, £{actual.sum():,.0f} in all",
        f"cxml: {len(cutoffs)} training cutoffs {cutoffs[0].date()} … {cutoffs[-1].date()} "
        f"({len(train):,} rows), {model.rounds} rounds",
        f"BG/NBD on {len(summary):,} buyers: r {bgnbd.r:.3f}, alpha {bgnbd.alpha:.2f}, "
        f"a {bgnbd.a:.3f}, b {bgnbd.b:.3f}; Gamma-Gamma p {gamma.p:.2f}, q {gamma.q:.2f}, "
        f"v {gamma.v:.1f}",
    ]
    return actual, {CXML: cxml, LAST: last, BTYD: btyd}, notes


def _metrics(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    return (
        float(np.abs(actual - predicted).mean()),
        float(predicted.sum() / actual.sum()),
        capture(actual, predicted),
    )


def judge(actual: np.ndarray, models: dict[str, np.ndarray], seed: int = 7) -> list[str]:
    lines = [f"  {'':<22} {'MAE £':>8} {'total/actual':>13} {'top-10% capture':>16}"]
    for name, predicted in models.items():
        mae, total, top = _metrics(actual, predicted)
        lines.append(f"  {name:<22} {mae:>8.1f} {total:>13.2f} {top:>16.1%}")
    rng = np.random.default_rng(seed)
    n = len(actual)
    draws = [rng.integers(0, n, n) for _ in range(N_BOOT)]
    for base in (LAST, BTYD):
        for k, metric in ((0, "MAE"), (2, "top-10% capture")):
            point = _metrics(actual, models[CXML])[k] - _metrics(actual, models[base])[k]
            diff = [
                _metrics(actual[d], models[CXML][d])[k] - _metrics(actual[d], models[base][d])[k]
                for d in draws
            ]
            low, high = np.percentile(diff, [2.5, 97.5])
            lines.append(f"  cxml − {base:<22} {metric:<16} {point:+.3f} [{low:+.3f}, {high:+.3f}]")
    return lines


def main() -> None:
    start = time.perf_counter()
    recorder = report.Recorder()
    with recorder.section("clv", "Future spend on real purchase logs"):
        print(__doc__.split("\n\n", 1)[1].strip() + "\n")
        source = shared_data_dir() / RETAIL_SOURCE
        if not source.is_file():
            print(f"skipped: {source} not found (set CXML_SHARED_DATA to the shared data folder)")
        else:
            with tempfile.TemporaryDirectory(prefix="cxml-clv-") as tmp:
                path = Path(tmp) / "online_retail"
                config = with_source(
                    load_config(PIPELINES / "online_retail.yaml", data_dir=path), source
                )
                actual, models, notes = predictions(config)
                print("UCI Online Retail")
                for note in notes:
                    print(f"  {note}")
                for line in judge(actual, models):
                    print(line)
        print(f"wall time {time.perf_counter() - start:.0f} s")
    written = report.write(recorder.sections, "make clv-bench")
    if written:
        print(f"written to {written} (CXML_BENCH_DOC=0 to skip)")


if __name__ == "__main__":
    main()

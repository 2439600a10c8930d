"""Wiring for `cxml monitor`, the command a scheduler runs: for a registered model, drift of the
customers scored now against its training profile, the performance its calibrated
probabilities promise, how its earlier scorings (found in the registry) and the decisions
taken on them turned out, and which of the config's thresholds were crossed. Writes
monitor.html and monitor.json together and records the run in MLflow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxml.config import NO_ACTION, PipelineConfig, plain
from cxml.data.io import json_text, write_together
from cxml.data.load import LoadedData
from cxml.data.schema import utc_timestamp
from cxml.features.attributes import as_of
from cxml.features.build import log_start
from cxml.models.drift import psi, shares
from cxml.models.monitoring import (
    Alert,
    Outcomes,
    alerts,
    drift_table,
    expected_performance,
    outcomes,
)
from cxml.report.monitor import PLOTTED, MonitorContext, render_monitor
from cxml.scoring import Scorer, scoring_population

KIND = "monitoring"


@dataclass(frozen=True)
class Monitored:
    """What a monitoring run found, wrote and recorded."""

    summary: dict[str, Any]  # monitor.json
    alerts: list[Alert]
    written: list[Path]
    run_id: str


def default_cutoff(events: pd.DataFrame) -> pd.Timestamp:
    """Now, as far as the data knows: midnight after the last event."""
    if events.empty:
        raise ValueError("the event log is empty: monitoring needs events; pass --cutoff")
    return pd.Timestamp(events["event_time"].max()).floor("D") + pd.Timedelta(days=1)


def run_monitor(
    config: PipelineConfig,
    out: Path,
    cutoff: str | None = None,
    ref: str = "champion",
    folders: Iterable[Path] = (),
) -> Monitored:
    """Monitor the model `ref` on the customers it speaks for at `cutoff` (default: the end of
    the data); `folders`: `cxml score` outputs to add to the registry's scorings."""
    from cxml.jobs.inputs import load_inputs
    from cxml.jobs.score import load_scorer
    from cxml.jobs.scorings import earlier_scorings

    loaded = load_inputs(config)
    scorer = load_scorer(config.tracking.model_name, ref)
    events = loaded.tables["events"]
    at = default_cutoff(events) if cutoff is None else utc_timestamp(cutoff)
    features, p = _current(config, loaded, scorer, at)
    found = outcomes(
        earlier_scorings(scorer.model_name, folders),
        events,
        loaded.tables["customers"],
        scorer.bundle.labels,
        loaded.tables.get("actions"),
        NO_ACTION if scorer.bundle.actions is None else scorer.bundle.actions.control,
        config.monitor.judged_scorings,
        scorer.model_version,
    )
    ctx = _context(config, scorer, at, features, p, found)
    latest = _latest(found, scorer.model_version)
    crossed = alerts(ctx.drift, ctx.expected, ctx.test_auc, latest, config.monitor)
    ctx = replace(ctx, alerts=[a.message for a in crossed])
    summary = _summary(ctx, config, found, crossed)
    html = render_monitor(ctx)
    files = {
        "monitor.html": lambda path: path.write_text(html, encoding="utf-8"),
        "monitor.json": lambda path: path.write_text(json_text(summary) + "\n", "utf-8"),
    }
    written = write_together(out, files)
    run_id = _record(config, ctx, summary, html, latest)
    return Monitored(summary, crossed, written, run_id)


def _current(
    config: PipelineConfig, loaded: LoadedData, scorer: Scorer, at: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray]:
    """The features and churn probabilities of the customers the model speaks for at `at`."""
    if "churn" not in scorer.bundle.models:
        raise ValueError(
            f"{scorer.model_name} v{scorer.model_version} has no churn model to monitor: train "
            "one with churn among the pipeline's targets"
        )
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    population = scoring_population(events, customers, at, scorer.bundle.labels)
    if population.empty:
        raise ValueError(
            f"no customer of {config.data.dir} is in the population the model speaks for at "
            f"{at.date()}: pick a --cutoff inside the data"
        )
    population = as_of(population, loaded.tables.get("attributes"), at)
    features = scorer.bundle.features(events, population, at, log_start(events)).frame()
    p = scorer.bundle.predict(features)["churn_probability"].to_numpy(dtype=float)
    return features, p


def _latest(found: Outcomes, version: str) -> dict[str, object] | None:
    """The most recent closed scoring by the monitored version: the one thresholds judge."""
    if found.earlier.empty:
        return None
    mine = found.earlier[found.earlier["model_version"].astype(str) == version]
    return None if mine.empty else mine.sort_values("cutoff").iloc[-1].to_dict()


def _context(
    config: PipelineConfig,
    scorer: Scorer,
    at: pd.Timestamp,
    features: pd.DataFrame,
    p: np.ndarray,
    found: Outcomes,
) -> MonitorContext:
    info = scorer.bundle.info
    profile = info.get("reference_profile")
    drift, distributions = None, {}
    if isinstance(profile, dict):
        drift = drift_table(psi(profile, features), config.monitor.psi_threshold)
        for name in drift.loc[drift["status"] != "missing", "feature"].head(PLOTTED):
            distributions[str(name)] = tuple(shares(profile, features, name))
    metrics, summary = info.get("metrics"), info.get("summary")
    test_auc = metrics.get("churn_roc_auc") if isinstance(metrics, dict) else None
    rate = summary.get("churn_rate") if isinstance(summary, dict) else None
    return MonitorContext(
        model_name=scorer.model_name,
        model_version=scorer.model_version,
        cutoff=at,
        horizon_days=scorer.bundle.horizon_days,
        customers=len(p),
        expected=expected_performance(p),
        thresholds=plain(config.monitor),
        drift=drift,
        distributions=distributions,  # type: ignore[arg-type]
        test_auc=None if test_auc is None else float(test_auc),
        training_churn_rate=None if rate is None else float(rate),
        earlier=found.earlier,
        earlier_older=found.older,
        pending=found.pending,
        decisions=found.decisions,
    )


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as JSON-ready dicts, times in ISO 8601."""
    times = frame.select_dtypes(["datetime", "datetimetz"]).columns
    iso = frame.assign(**{c: frame[c].map(pd.Timestamp.isoformat) for c in times})
    return iso.to_dict("records") if len(frame) else []


def _summary(
    ctx: MonitorContext, config: PipelineConfig, found: Outcomes, crossed: list[Alert]
) -> dict[str, Any]:
    """monitor.json: every number the page shows, and the alerts."""
    drift = None
    if ctx.drift is not None:
        drift = {
            "share": float(ctx.drift["crossed"].mean()),
            "drifted": int(ctx.drift["crossed"].sum()),
            "features": len(ctx.drift),
            "table": _records(ctx.drift),
        }
    return {
        "model": {"name": ctx.model_name, "version": ctx.model_version},
        "cutoff": ctx.cutoff.isoformat(),
        "data_dir": str(config.data.dir),
        "customers": ctx.customers,
        "thresholds": ctx.thresholds,
        "alerts": [asdict(a) for a in crossed],
        "drift": drift,
        "expected": ctx.expected | {"test_auc": ctx.test_auc},
        "earlier": _records(found.earlier),
        "earlier_older": found.older,
        "pending": _records(found.pending),
        "decisions": _records(found.decisions),
    }


def _record(
    config: PipelineConfig,
    ctx: MonitorContext,
    summary: dict[str, Any],
    html: str,
    latest: dict[str, object] | None,
) -> str:
    """The monitoring run in MLflow: its headline numbers as metrics, the page and the JSON."""
    from cxml.jobs import uses

    e = ctx.expected
    metrics: dict[str, object] = {
        "customers": ctx.customers,
        "expected_auc": e["expected_auc"],
        "expected_churners": e["expected_churners"],
        "expected_churn_rate": e["expected_churn_rate"],
        "alerts": len(summary["alerts"]),
    }
    if ctx.test_auc is not None:
        metrics["expected_auc_drop"] = ctx.test_auc - e["expected_auc"]
    if summary["drift"] is not None:
        metrics["drift_share"] = summary["drift"]["share"]
        metrics["drifted_features"] = summary["drift"]["drifted"]
    for key in ("realised_auc", "ece", "lift_top10"):
        if latest is not None:
            metrics[f"latest_{key}"] = latest[key]
    finite = {k: float(v) for k, v in metrics.items() if np.isfinite(float(v))}  # type: ignore[arg-type]
    return uses.log_use(
        kind=KIND,
        experiment=config.tracking.experiment,
        run_name=f"monitor {ctx.cutoff.date()} v{ctx.model_version}",
        model_name=ctx.model_name,
        version=ctx.model_version,
        params={"cutoff": ctx.cutoff.isoformat(), "model_version": ctx.model_version}
        | {f"monitor.{k}": v for k, v in ctx.thresholds.items()},
        metrics=finite,
        frames={},
        texts={"monitor.json": json_text(summary) + "\n", "monitor.html": html},
        pii_columns=config.features.pii_columns,
    )


def describe(done: Monitored) -> list[str]:
    """What `cxml monitor` prints: one line per part."""
    s = done.summary
    e, model = s["expected"], s["model"]
    lines = [
        f"monitored {model['name']} v{model['version']} at {s['cutoff'][:10]}: "
        f"{s['customers']:,} customers"
    ]
    if s["drift"] is not None:
        d = s["drift"]
        lines.append(
            f"drift: {d['drifted']} of {d['features']} features drifted (share {d['share']:.3f})"
        )
    test = "" if e["test_auc"] is None else f" (test AUC {e['test_auc']:.3f})"
    lines.append(
        f"expected AUC {e['expected_auc']:.3f}{test}, expected churners "
        f"{e['expected_churners']:,.0f}"
    )
    for row in s["earlier"]:
        lines.append(
            f"scoring of {str(row['cutoff'])[:10]} (v{row['model_version']}): realised "
            f"AUC {row['realised_auc']:.3f}, ECE {row['ece']:.3f}, "
            f"{row['realised_churners']:,} churners of {row['expected_churners']:,.0f} expected"
        )
    if s["pending"]:
        lines.append(f"{len(s['pending'])} scoring(s) still waiting for their outcomes")
    lines.append(f"MLflow run {done.run_id}; {len(done.alerts)} alert(s)")
    return lines

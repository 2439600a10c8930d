"""Wiring for the scoring report: gathers what `render_report` shows from the run, the bundle,
the data dir and the registry of earlier scorings (`jobs/scorings.py`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxml.actions.calibration import UpliftCalibration
from cxml.data.load import LoadedData
from cxml.features.labels import describe_churn
from cxml.features.table import Table
from cxml.jobs.outcomes import earlier_decisions
from cxml.models.drift import psi
from cxml.models.monitoring import Outcomes, outcomes
from cxml.report import ReportContext, render_report
from cxml.report.kpis import nps_trend, retention_rate
from cxml.scoring import Scorer


@dataclass(frozen=True)
class EventFacts:
    """What the report reads from the events: how earlier scorings turned out, the NPS by
    month and the retention of one horizon back. Taken right after the features, so that a
    run without the page need not hold the events while it scores (`cxml score --no-page`)."""

    earlier: Outcomes | None
    nps: pd.DataFrame
    retention_rate: float


def event_facts(
    scorer: Scorer,
    loaded: LoadedData,
    at: pd.Timestamp,
    judged: int,
) -> EventFacts:
    """The report's `EventFacts` at the cutoff `at`; `judged`: how many of the newest closed
    scorings it judges (`MonitorConfig.judged_scorings`)."""
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    labels = scorer.bundle.labels
    return EventFacts(
        earlier=earlier_outcomes(scorer, events, customers, judged),
        nps=nps_trend(events, at),
        retention_rate=retention_rate(events, customers, at, labels),
    )


def earlier_outcomes(
    scorer: Scorer, events: pd.DataFrame, customers: pd.DataFrame, judged: int
) -> Outcomes | None:
    """How the model's earlier scorings (found in the registry) turned out, for the `judged`
    newest whose outcome window has closed: realised AUC, calibration and lift
    (`models.monitoring`)."""
    from cxml.jobs.scorings import earlier_scorings

    if events.empty:
        return None
    found = earlier_scorings(scorer.model_name)
    return outcomes(found, events, customers, scorer.bundle.labels, judged=judged)


def _policy_values(scorer: Scorer) -> pd.DataFrame | None:
    """The backtest at training time: each policy's value at the test cutoff, same budget."""
    table = scorer.bundle.info.get("nba_policies")
    if not isinstance(table, list) or not table:
        return None
    frame = pd.DataFrame(table)
    if "dr_value" in frame and frame["dr_value"].notna().any():  # out of time, with intervals
        rows = frame[frame["dr_value"].notna()]
        rows = rows.rename(
            columns={"dr_value": "expected_value", "dr_low": "low", "dr_high": "high"}
        )
        return rows[["policy", "expected_value", "low", "high"]]
    column = "true_value" if "true_value" in frame else "estimated_value"
    return frame.rename(columns={column: "expected_value"})[["policy", "expected_value"]]


def _fallback_words(info: object) -> str | None:
    """The fallback in words, for the report: which simple policy is used and why."""
    if not isinstance(info, dict):
        return None
    return f"This list uses the simple policy {info['policy'].replace('_', ' ')}: {info['why']}."


def _calibration_words(info: object) -> str | None:
    """How the expected gains were calibrated, for the report (actions/calibration.py)."""
    found = UpliftCalibration.from_info(info)
    if found is None:
        return None
    return (
        f"The expected gains are calibrated on the earlier campaigns, cross-fitted "
        f"({found.rows:,} customer × campaign rows): the learner's differences between "
        f"customers are scaled by {found.slope:.2f} (fitted {found.fitted_slope:.2f} ± "
        f"{found.var_slope**0.5:.2f}), and each action's mean effect moved toward the measured "
        "one as far as it stands out of its noise. Each expected gain in the list carries its "
        "90% interval."
    )


def drift(scorer: Scorer, features: Table) -> pd.DataFrame | None:
    """How far the scored features moved from training's (PSI per feature), for the report; it
    is taken before the report is made, so that the features need not be held while it is."""
    profile = scorer.bundle.info.get("reference_profile")
    return psi(profile, features) if isinstance(profile, dict) else None


def report_html(
    scored: pd.DataFrame,
    scorer: Scorer,
    moved: pd.DataFrame | None,
    facts: EventFacts,
    touchpoints: pd.DataFrame | None = None,
) -> str:
    """The scoring report; `moved`: the features' `drift`; `facts`: what it reads from the
    events (`event_facts`)."""
    bundle = scorer.bundle
    earlier = facts.earlier
    at = pd.Timestamp(scored["cutoff"].iloc[0])
    value = None
    if "customer_value" in scored:
        value = scored.set_index("customer_id")["customer_value"]
    metrics = bundle.info.get("metrics")
    context = ReportContext(
        model_name=scorer.model_name,
        model_version=scorer.model_version,
        cutoff=at,
        horizon_days=bundle.horizon_days,
        customer_value=value,
        value_rule="fixed" if bundle.actions is None else bundle.actions.value.rule,
        budget=None if bundle.actions is None else bundle.actions.budget,
        policy_values=_policy_values(scorer),
        fallback=_fallback_words(bundle.info.get("policy_fallback")),
        calibration=_calibration_words(bundle.info.get("uplift_calibration")),
        uplift_deciles=pd.DataFrame(bundle.info.get("uplift_deciles") or []),
        touchpoints=touchpoints,
        drift=moved,
        nps=facts.nps,
        retention_rate=facts.retention_rate,
        churn_definition=describe_churn(bundle.labels),
        base_rate=scorer.base_rate,
        model_facts=_model_facts(bundle.info),
        earlier=None if earlier is None or earlier.earlier.empty else earlier.earlier,
        earlier_older=0 if earlier is None else earlier.older,
        decisions=earlier_decisions(scorer.model_name),
        training_metrics=_finite(metrics) if isinstance(metrics, dict) else None,
        attributes=_attributes(bundle.info.get("attributes")),
        currency="" if bundle.actions is None else bundle.actions.currency,
    )
    return render_report(scored, context)


def _model_facts(info: dict[str, object]) -> dict[str, str]:
    """The run's words on what was shipped, why and how it was refitted."""
    summary = info.get("summary")
    if not isinstance(summary, dict):
        return {}
    names = {
        "churn_model": "churn model",
        "satisfaction_drop_model": "satisfaction-drop model",
        "registered_models": "registered models",
        "churn_rate": "training churn rate",
        "test_churn_rate": "test churn rate",
    }
    return {
        label: str(summary[key]) for key, label in names.items() if summary.get(key) is not None
    }


def _finite(metrics: dict[str, object]) -> dict[str, float]:
    return {
        k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and np.isfinite(v)
    }


def _attributes(found: object) -> dict[str, list[str]] | None:
    """The bundle's record of its attributes (None for a model trained before it was kept)."""
    if not isinstance(found, dict):
        return None
    return {k: [str(n) for n in found.get(k, [])] for k in ("with_history", "static")}

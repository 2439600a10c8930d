"""Wiring for `cxml outcomes`: once a run's outcome window has closed, join its decisions
(`decisions.parquet` from `cxml score`) with what happened (the churn label of the window after
the cutoff, as training makes it) and measure the realised impact (actions/outcomes.py). The
tables hold no customer id; they go to files and to MLflow, beside the scoring."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from cxml.actions.outcomes import by_action, by_decile, policy_values
from cxml.config import PipelineConfig
from cxml.data.io import read_file, save_csv, write_together
from cxml.data.schema import ContractError
from cxml.features.labels import label_inputs, make_labels

DECISION_COLUMNS = (
    "customer_id",
    "action_time",
    "action",
    "cost",
    "propensity",
    "decision",
    "policy_action",
    "decision_id",
    "customer_value",
    "expected_gain",
    "uplift",
    "churn_probability",
)
KIND = "outcomes"  # the MLflow runs `cxml outcomes` logs (jobs/uses.py)
ARTIFACT = "outcomes/by_action.parquet"
#: The data may end up to a day before a window closes: its last day is a partial one.
_SLACK = pd.Timedelta(days=1)


@dataclass
class Outcomes:
    tables: dict[str, pd.DataFrame]
    decisions: int
    with_outcome: int
    cutoff: pd.Timestamp

    def lines(self) -> list[str]:
        """What a person reads first: the realised uplift per action against the predicted."""
        missing = self.decisions - self.with_outcome
        out = [
            f"decisions of {self.cutoff.date()}: {self.decisions:,}; with an outcome: "
            f"{self.with_outcome:,}" + (f" ({missing:,} no longer in the data)" if missing else "")
        ]
        for row in self.tables["by_action"].itertuples():
            out.append(
                f"  {row.action}: churn {row.churn_treated:.1%} treated ({row.treated:,}) vs "
                f"{row.churn_control:.1%} held out ({row.control:,}); churn avoided "
                f"{row.realised_uplift:+.1%} [{row.low:+.1%}, {row.high:+.1%}], predicted "
                f"{row.predicted_uplift:+.1%}; gain realised {row.realised_gain:,.0f} vs "
                f"expected {row.expected_gain:,.0f}"
            )
        values = self.tables["policy_value"]
        for row in values[values["policy"] == "policy - no action"].itertuples():
            out.append(
                f"  policy vs no action ({row.estimator.upper()}, logged propensities): "
                f"retained {row.retained:+.1%} [{row.low:+.1%}, {row.high:+.1%}]"
            )
        return out


def read_decisions(path: Path) -> pd.DataFrame:
    """A run's decisions, checked: one cutoff, every column `outcomes` needs."""
    if not path.is_file():
        raise ContractError(f"{path}: no such file; pass the decisions.parquet of a cxml score run")
    frame = read_file(path)
    missing = [c for c in DECISION_COLUMNS if c not in frame]
    if missing:
        raise ContractError(
            f"{path}: column(s) {', '.join(missing)} missing; pass the decisions.parquet that "
            "cxml score wrote (with its control group and propensities)"
        )
    times = pd.to_datetime(frame["action_time"], utc=True)
    if times.nunique() != 1:
        raise ContractError(f"{path}: decisions of several cutoffs; pass one run's decisions")
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame.assign(action_time=times)


def run_outcomes(config: PipelineConfig, decisions_path: Path, out: Path) -> Outcomes:
    """The realised impact of one run's decisions, written to `out` (replacing an earlier
    run's tables together) and recorded in MLflow."""
    from cxml.jobs.inputs import load_inputs

    decisions = read_decisions(decisions_path)
    cutoff = pd.Timestamp(decisions["action_time"].iloc[0])
    loaded = load_inputs(config, out / "quarantine", write=False)
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    closes = cutoff + pd.Timedelta(days=config.labels.horizon_days)
    end = pd.Timestamp(pd.to_datetime(events["event_time"], utc=True).max())
    if closes > end + _SLACK:
        raise ContractError(
            f"{decisions_path}: the outcome window of these decisions closes {closes.date()} "
            f"({config.labels.horizon_days} days after {cutoff.date()}), but the data in "
            f"{config.data.dir} ends {end.date()}: run cxml outcomes once the data covers it"
        )
    labels = make_labels(*label_inputs(events, customers, config.labels), cutoff, config.labels)
    churned = labels["churn"].rename("churned")
    joined = decisions.join(churned, on="customer_id", how="inner")
    tables = {
        "by_action": by_action(joined),
        "by_decile": by_decile(joined),
        "policy_value": policy_values(joined),
    }
    result = Outcomes(tables, len(decisions), len(joined), cutoff)
    write_together(
        out, {f"outcomes_{name}.csv": partial(save_csv, frame) for name, frame in tables.items()}
    )
    _record(config, decisions, result)
    return result


def _record(config: PipelineConfig, decisions: pd.DataFrame, result: Outcomes) -> str:
    from cxml.jobs import uses

    version = str(decisions["model_version"].iloc[0]) if "model_version" in decisions else ""
    overall = result.tables["by_action"].iloc[0]
    metrics = {
        "decisions": float(result.decisions),
        "with_outcome": float(result.with_outcome),
        "realised_uplift": float(overall["realised_uplift"]),
        "predicted_uplift": float(overall["predicted_uplift"]),
        "realised_gain": float(overall["realised_gain"]),
        "expected_gain": float(overall["expected_gain"]),
    }
    return uses.log_use(
        kind=KIND,
        experiment=config.tracking.experiment,
        run_name=f"outcomes of {result.cutoff.date()} (v{version})",
        model_name=config.tracking.model_name,
        version=version,
        params={"cutoff": result.cutoff.isoformat(), "model_version": version},
        metrics={k: v for k, v in metrics.items() if pd.notna(v)},
        frames={f"{KIND}/{name}.parquet": frame for name, frame in result.tables.items()},
        texts={},
        pii_columns=config.features.pii_columns,
    )


def earlier_decisions(model_name: str) -> pd.DataFrame | None:
    """Every `cxml outcomes` of the model in the registry, newest first: per run's cutoff, the
    per-action table (for the report's "How earlier decisions turned out")."""
    from cxml.jobs import uses

    found = [
        uses.use_frame(use.run_id, ARTIFACT).assign(cutoff=pd.Timestamp(use.params["cutoff"]))
        for use in uses.find_uses(KIND, model_name)
        if "cutoff" in use.params
    ]
    found = [f for f in found if len(f)]
    if not found:
        return None
    table = pd.concat(found, ignore_index=True)
    return table.drop_duplicates(["cutoff", "action"], keep="first")  # a re-run: the newest

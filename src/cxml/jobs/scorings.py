"""The registry of scorings: every `cxml score` records itself as an MLflow run tagged as a
scoring of its model version, holding the list's customer ids, cutoff, probabilities and
actions (never a customer attribute), so a later run finds every earlier scoring wherever its
output folder went, and can say how it turned out once its outcome window has closed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.io import read_file
from cxml.data.schema import utc_timestamp
from cxml.models.monitoring import Scoring

if TYPE_CHECKING:
    from cxml.jobs.uses import Use

KIND = "scoring"
ARTIFACT = "scoring/scored.parquet"
#: What a scoring keeps for later: who, when, how risky, and what was recommended.
KEPT = ["customer_id", "cutoff", "churn_probability", "action", "action_expected_gain"]


def register(config: PipelineConfig, scored: pd.DataFrame, out: str) -> str:
    """Record a scoring (its list's `KEPT` columns, model name and version) in MLflow as one
    small Parquet artifact; `out`: where the list was written. Returns the run id."""
    from cxml.jobs import uses

    kept = scored[[c for c in KEPT if c in scored]]
    version = str(scored["model_version"].iloc[0])
    cutoff = pd.Timestamp(scored["cutoff"].iloc[0])
    return uses.log_use(
        kind=KIND,
        experiment=config.tracking.experiment,
        run_name=f"score {cutoff.date()} with v{version}",
        model_name=str(scored["model_name"].iloc[0]),
        version=version,
        params={"cutoff": cutoff.isoformat(), "model_version": version, "out": out},
        metrics={
            "customers": float(len(scored)),
            "expected_churners": float(scored["churn_probability"].sum()),
        },
        frames={ARTIFACT: kept},
        texts={},
        pii_columns=config.features.pii_columns,
    )


def earlier_scorings(model_name: str, folders: Iterable[Path] = ()) -> list[Scoring]:
    """Every scoring of the model the registry knows (newest first), then those in `folders`
    (each holding a `scored.parquet` from `cxml score`); a cutoff scored twice by the same
    version counts once, the newest. A registry run's rows are read from its artifact only
    when they are asked for (`Scoring.read`)."""
    from cxml.jobs import uses

    found = [_from_run(use) for use in uses.find_uses(KIND, model_name)]
    found += [_from_folder(folder, model_name) for folder in folders]
    unique: dict[tuple[str, pd.Timestamp], Scoring] = {}
    for scoring in found:
        unique.setdefault((scoring.model_version, scoring.cutoff), scoring)
    return list(unique.values())


def _from_run(use: Use) -> Scoring:
    """The scoring a registry run recorded (`register`), its cutoff from the run's parameters
    and its number of customers from its metrics."""
    from cxml.jobs import uses

    def read() -> pd.DataFrame:
        return uses.use_frame(use.run_id, ARTIFACT)

    source, version = f"MLflow run {use.run_id}", use.params.get("model_version", "?")
    if "cutoff" not in use.params:  # not recorded by `register`: the rows say
        return Scoring.of(source, version, read())
    customers = use.metrics.get("customers")
    cutoff = utc_timestamp(use.params["cutoff"])
    return Scoring(source, version, cutoff, read, None if customers is None else int(customers))


def _from_folder(folder: Path, model_name: str) -> Scoring:
    """The scoring a `cxml score` --out folder holds, checked to be of this model."""
    path = folder / "scored.parquet"
    if not path.is_file():
        raise ValueError(f"--scored {folder}: no scored.parquet there; pass a `cxml score` --out")
    rows = read_file(path)
    needed = [*KEPT[:3], "model_name", "model_version"]
    absent = [c for c in needed if c not in rows]
    if absent or not len(rows):
        raise ValueError(
            f"{path}: not a list from `cxml score` (lacks {absent or 'rows'}); pass its --out"
        )
    if str(rows["model_name"].iloc[0]) != model_name:
        raise ValueError(
            f"{path} was scored by {rows['model_name'].iloc[0]!r}, not {model_name!r}: pass "
            "the folders of this model's scorings"
        )
    version = str(rows["model_version"].iloc[0])
    return Scoring.of(str(folder), version, rows[[c for c in KEPT if c in rows]])

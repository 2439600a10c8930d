"""Wiring for `cxml score`: load the data dir and the registered bundle, score everyone active at
the cutoff with `cxml.scoring`, and write the list and the report."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.io import save_csv, save_parquet, write_together
from cxml.data.load import LoadedData, require_numbers
from cxml.data.schema import utc_timestamp
from cxml.features.attributes import as_of
from cxml.features.build import log_start
from cxml.features.catalog import Features
from cxml.jobs import database
from cxml.models.bundle import ScoringBundle
from cxml.scoring import Scorer, scoring_population

Writer = Callable[[Path], object]
QUARANTINE = "quarantine"  # the folder in a scoring run's output for the input rows left out


def load_scorer(model_name: str, ref: str = "champion") -> Scorer:
    from cxml.jobs import tracking

    version, bundle = tracking.load_reference(model_name, ref)
    if not isinstance(bundle, ScoringBundle):
        raise ValueError(f"{model_name} v{version} is not a cxml scoring bundle")
    return Scorer(bundle, model_name, version)


def numeric_profile(bundle: ScoringBundle) -> list[str]:
    """The customers columns the bundle's model reads as numbers."""
    levels = bundle.encoder.levels_
    names = [c for c in bundle.feature_names if c.startswith("profile_") and c not in levels]
    return [c.removeprefix("profile_") for c in names]


def decisions(scored: pd.DataFrame, channels: dict[str, str]) -> pd.DataFrame:
    """The run's decisions as an `actions` table of the data contract (control rows and "none"
    included, each with its propensity): what `cxml outcomes` reads once the outcome window has
    closed, and what goes back into the data dir's actions log with the outcomes."""
    return pd.DataFrame(
        {
            "customer_id": scored["customer_id"],
            "action_time": scored["cutoff"],
            "action": scored["action"],
            "channel": scored["action"].map(channels),
            "cost": scored["action_cost"],
            "propensity": scored["action_propensity"],
            "decision": scored["action_decision"],
            "policy_action": scored["policy_action"],  # what the allocation chose
            "decision_id": scored["decision_id"],
            "customer_value": scored["customer_value"],
            "expected_gain": scored["action_expected_gain"],
            "uplift": scored["action_uplift"],
            "churn_probability": scored["churn_probability"],
            "churn_risk_band": scored["churn_risk_band"],
            "model_version": scored["model_version"],
        }
    )


def scored_files(
    scored: pd.DataFrame,
    html: str | None = None,
    loaded: LoadedData | None = None,
    channels: dict[str, str] | None = None,
) -> dict[str, Writer]:
    """The files of a scoring run (name in the output folder -> its writer): the list as
    Parquet and CSV, the decisions (`decisions`, when the run randomised), the report, and the
    input rows it left out (`quarantine/<table>.quarantine.csv`, each row with its reason)."""
    channels = channels or {}
    files: dict[str, Writer] = {
        "scored.parquet": partial(save_parquet, scored),
        "scored.csv": partial(save_csv, scored),
    }
    if "decision_id" in scored:
        files["decisions.parquet"] = partial(save_parquet, decisions(scored, channels))
    if html is not None:
        files["report.html"] = lambda path: path.write_text(html, encoding="utf-8")
    quarantine = {} if loaded is None else loaded.quarantine_files(Path(QUARANTINE))
    for path, rows in quarantine.items():
        # no rows: a writer that writes nothing, so an earlier run's file goes (write_together
        # removes each named file before writing it)
        files[str(path)] = _nothing if rows is None else partial(save_csv, rows)
    return files


def _nothing(path: Path) -> None:
    """Write no file at `path`."""


def base_features(
    loaded: LoadedData, bundle: ScoringBundle, at: pd.Timestamp, where: Path
) -> Features:
    """The features at `at` of everyone the model speaks for (the scoring population), as
    `cxml score` scores them; `where`: the data dir, for the message when there is no one."""
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    population = scoring_population(events, customers, at, bundle.labels)
    if population.empty:
        raise ValueError(
            f"no customer of {where} is in the population the model speaks for at "
            f"{at.date()} (joined before it, not gone; see the churn definition): pick a "
            "cutoff inside the data"
        )
    population = as_of(population, loaded.tables.get("attributes"), at)
    return bundle.features(events, population, at, log_start(events))


def run_score(
    config: PipelineConfig,
    cutoff: str,
    out: Path,
    ref: str = "champion",
    explain_top: float | None = 0.1,
    to_db: str | None = None,
    run_id: str | None = None,
    page: bool = True,
) -> tuple[pd.DataFrame, list[Path]]:
    """Score everyone active at the cutoff with the registered bundle; write the list, the
    report and (with `page`) the team's page `ui/` (docs/ui.md), then record the scoring in
    MLflow (`jobs/scorings.py`) for later monitoring.
    Everything is computed before anything is written, and the run's files replace the
    previous ones together, so a failed run leaves the previous outputs as they were.

    `to_db`: a database URL the list also goes to (jobs/database.py), as the run `run_id`
    (default: model, version and cutoff). It is checked before any work; then the run's rows
    are replaced in one transaction, the files are written inside it and it commits last, so
    a failed database write leaves the files as they were and a failed file write leaves the
    database as it was."""
    from cxml.jobs.inputs import load_inputs
    from cxml.jobs.progress import stages
    from cxml.jobs.score_report import drift, event_facts, report_html
    from cxml.jobs.score_ui import no_ui_files, ui_files
    from cxml.jobs.scorings import register

    at = utc_timestamp(cutoff)
    if to_db is not None:
        database.check(to_db)
    steps = ["load data", "load model", "features", "the report's figures from the events"]
    steps += ["score, explain, allocate"]
    write = "write, the page's chunks made as written" if page else "write"
    steps += ["report", "page", write]
    with stages("scoring", [*steps, "register"]) as begin:
        begin("load data")
        loaded = load_inputs(config, out / QUARANTINE, write=False)  # written with the list
        begin("load model")
        scorer = load_scorer(config.tracking.model_name, ref)
        require_numbers(
            loaded, numeric_profile(scorer.bundle), f"{scorer.model_name} v{scorer.model_version}"
        )
        begin("features")
        features = base_features(loaded, scorer.bundle, at, config.data.dir)
        begin("the report's figures from the events")
        facts = event_facts(scorer, loaded, at, config.monitor.judged_scorings)
        if not page:  # nothing else reads the events: scoring need not hold them
            loaded.release("events")
        log = loaded.tables.get("actions")
        begin("score, explain, allocate")
        result = scorer.score(
            features, at, explain_top, log, False, touchpoints=True, experiment=config.experiment
        )
        listed = result.take(np.argsort(result["churn_rank"], kind="stable"))  # by risk
        scored = listed.frame_with_ids()
        scored["scored_at"] = pd.Timestamp.now(tz="UTC")
        moved, touchpoints = drift(scorer, features), result.touchpoints
        del features, result  # used no more: a big base's report and page are made without them
        begin("report")
        html = report_html(scored, scorer, moved, facts, touchpoints)
        begin("page")
        ui = ui_files(scored, loaded.tables, config, out) if page else no_ui_files(out)
        begin(write)
        actions = scorer.bundle.actions
        channels = {} if actions is None else {a.name: a.channel for a in actions.catalog}
        files = scored_files(scored, html, loaded, channels)
        files |= ui
        if to_db is None:
            written = write_together(out, files)
        else:
            budget = None if actions is None else actions.budget
            with database.replacing_run(to_db, scored, run_id, model_ref=ref, budget=budget):
                written = write_together(out, files)
        begin("register")
        register(config, scored, str(out.resolve()))
    return scored, [path for path in written if path.exists()]

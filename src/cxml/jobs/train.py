"""Wiring for `cxml train`: read the data dir, build the training frame, backtest, record.

Reads and writes; the logic lives in features/ and models/. MLflow is reached only through
`jobs/tracking.py`, and only after everything else has worked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.io import read_file
from cxml.data.load import LoadedData
from cxml.data.validate import pii_lookalikes
from cxml.features.attributes import as_of, attribute_record, profile_columns
from cxml.features.build import build_features, feature_catalog, log_start
from cxml.features.dataset import Split, build_training_set, informative, out_of_time_split
from cxml.features.table import Table
from cxml.features.topics import with_classifier
from cxml.jobs.inputs import cutoffs, load_inputs
from cxml.jobs.nba import judge_policy
from cxml.jobs.preflight import check_against_data
from cxml.jobs.progress import stages
from cxml.jobs.time_to_churn import LIFETIME_NEEDS_SURVIVAL, time_to_churn_model
from cxml.models.backtest import (
    LABELS,
    Backtest,
    cross_validated,
    out_of_time,
)
from cxml.models.bundle import ScoringBundle, bundle_spec, synthetic_example
from cxml.models.drift import reference_profile
from cxml.models.report import describe_choice, evaluation_report
from cxml.report.figures import evaluation_figures

if TYPE_CHECKING:
    from cxml.jobs.tracking import RunRecord


@dataclass
class Trained:
    """What a training run produced, before (and independent of) tracking."""

    bundle: ScoringBundle
    backtest: Backtest
    metrics: dict[str, float]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, object]
    summary: dict[str, object]
    example: pd.DataFrame
    frame: pd.DataFrame  # every built feature and the labels, keyed (customer_id, cutoff)
    split: Split | None  # the cutoffs' roles (None: judged by cross-validation)
    loaded: LoadedData  # the data dir's tables it learned from (logged as MLflow datasets)


def training_frame(
    config: PipelineConfig, loaded: LoadedData, at: list[pd.Timestamp]
) -> pd.DataFrame:
    """Features + label columns keyed (customer_id, cutoff): derived, or from the labels table."""
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    fcfg, since = config.features, log_start(events)
    history = loaded.tables.get("attributes")

    def features(ev: pd.DataFrame, cu: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
        return build_features(ev, as_of(cu, history, cutoff), cutoff, fcfg, since).frame()

    if config.labels.source == "derived":
        return build_training_set(events, customers, at, features, config.labels)
    if "labels" not in loaded.tables:
        raise ValueError(f"labels.source is 'table' but {config.data.dir} has no labels table")
    labels = loaded.tables["labels"].copy()
    labels["cutoff"] = pd.to_datetime(labels["cutoff"], utc=True)
    parts = []
    for cutoff, rows in labels.groupby("cutoff"):
        frame = features(events, customers, cutoff)
        targets = rows.set_index("customer_id")[[t for t in config.targets if t in rows]]
        joined = frame.join(targets, how="inner")
        joined.index = pd.MultiIndex.from_product([joined.index, [cutoff]])
        parts.append(joined)
    frame = pd.concat(parts)
    frame.index.names = ["customer_id", "cutoff"]
    return frame


def backtest(
    config: PipelineConfig,
    frame: pd.DataFrame,
    directions: dict[str, int] | None = None,
    begin: Callable[[str], None] = lambda step: None,
) -> tuple[Backtest, Split | None]:
    """The models judged out of time (or by cross-validation for snapshots); `directions`:
    the catalog's, per feature, which the trees keep (see ModelConfig.monotone); `begin`: told
    each step as it starts."""
    targets = tuple(t for t in config.targets if t in frame.columns and frame[t].notna().any())
    model, folds = config.model, config.evaluation.folds
    if config.evaluation.kind == "cross_validation":
        return cross_validated(frame, targets, model, folds, directions, begin), None
    at = sorted(set(frame.index.get_level_values("cutoff")))
    split = out_of_time_split(
        at, config.labels.horizon_days, config.cutoffs.n_test, config.cutoffs.n_validation
    )
    return out_of_time(frame, split, targets, model, directions, begin), split


def read_truth(config: PipelineConfig, split: Split | None) -> pd.DataFrame | None:
    """The simulator's truth, if the data dir has one for the test cutoff."""
    path = config.data.dir / "truth.parquet"
    if split is None or not path.is_file():
        return None
    truth = read_file(path)
    at = pd.to_datetime(truth["cutoff"], utc=True)
    truth = truth[at.isin(split.test)]
    return truth.set_index("customer_id") if len(truth) else None


def summarise(
    loaded: LoadedData, frame: pd.DataFrame, split: Split | None, config: PipelineConfig
) -> dict[str, object]:
    """What the data was: sizes, cutoffs per role, what was quarantined, and the label rates of
    the rows the models learned from (they set the risk bands) beside those of the test rows,
    so a shift in base rate between them shows."""
    cutoffs = frame.index.get_level_values("cutoff")
    test = cutoffs.isin(split.test) if split is not None else np.zeros(len(frame), dtype=bool)
    training, tested = frame[~test], frame[test]
    summary: dict[str, object] = {
        "pipeline": config.name,
        "data_dir": str(config.data.dir),
        "customers": len(loaded.tables["customers"]),
        "events": len(loaded.tables["events"]),
        "quarantined_rows": loaded.quarantined_rows,
        "training_rows": len(training),
        "test_rows": len(tested),
        "features": len(frame.columns)
        - len([t for t in ("churn", "satisfaction_drop") if t in frame]),
    }
    for target in ("churn", "satisfaction_drop"):
        if target in frame:
            summary[f"{target}_labelled_rows"] = int(training[target].notna().sum())
            summary[f"{target}_rate"] = _rate(training[target])
            if len(tested):
                summary[f"test_{target}_rate"] = _rate(tested[target])
    if split is not None:
        for role in ("train", "validation", "test"):
            summary[f"{role}_cutoffs"] = [str(c.date()) for c in getattr(split, role)]
    return summary


def _rate(labels: pd.Series) -> float | None:
    """The mean of the known labels, rounded; None when none is known."""
    known = labels.dropna()
    return round(float(known.mean()), 4) if len(known) else None


def train_stages(config: PipelineConfig) -> list[str]:
    """The named stages `cxml train` shows, in order."""
    backtests = [f"backtest {target}" for target in config.targets]
    refit = [] if config.evaluation.kind == "cross_validation" else ["refit for registration"]
    after = ["next best action", "time to churn", "explain"]
    return ["load data", "build features", *backtests, *refit, *after]


def train(config: PipelineConfig, show_progress: bool = True) -> Trained:
    """Everything but tracking: load, build, backtest, evaluate, bundle."""
    with stages("training", train_stages(config), show_progress) as begin:
        begin("load data")
        loaded = load_inputs(config)
        config, lookalikes = _without_pii_lookalikes(config, loaded)
        check_against_data(config, loaded, cutoffs(config))  # before any heavy work
        begin("build features")
        # The topic classifier fitted once, here: the model keeps it, not the examples.
        config = config.model_copy(update={"features": with_classifier(config.features)})
        built = training_frame(config, loaded, cutoffs(config))
        frame = informative(built, LABELS)  # what the models learn from
        fcfg = config.features
        features = frame.drop(columns=[c for c in LABELS if c in frame])
        profile = profile_columns(loaded.tables["customers"], loaded.tables.get("attributes"))
        catalog = feature_catalog(profile, fcfg).loc[list(features.columns)]
        result, split = backtest(config, frame, catalog["direction"].to_dict(), begin)
        truth = read_truth(config, split)
        metrics, tables = evaluation_report(result, built, truth, config.evaluation.segments)
        figures: dict[str, object] = {**evaluation_figures(tables, result.results)}
        summary = summarise(loaded, frame, split, config)
        summary["constant_features_left_out"] = len(built.columns) - len(frame.columns)
        if lookalikes:
            summary["pii_lookalikes_left_out"] = lookalikes
        for target, model in result.models.items():
            summary[f"{target}_model"] = describe_choice(model)
        if result.deployment:
            summary["registered_models"] = result.deployment
        begin("time to churn")
        survival = time_to_churn_model(config, loaded, features, result.encoder, split)
        if survival is not None:
            summary["time_to_churn"] = f"{survival.rounds} rounds, weekly hazard to a year"
        lifetime = config.actions is not None and config.actions.value.rule == "lifetime"
        if lifetime and survival is None:  # every scoring of this model would fail: say it now
            raise ValueError(LIFETIME_NEEDS_SURVIVAL)
        uplift, fallback, deciles, calibration = None, None, None, None
        begin("next best action")
        if config.actions is not None and split is not None:
            before = None  # what the lifetime value rule reads at the test cutoff, learned before
            if lifetime:
                before = time_to_churn_model(
                    config, loaded, features, result.encoder, split, until=split.test[0]
                )
            judged = judge_policy(config, loaded, split, result, features, truth, before)
            uplift, fallback, deciles = judged.learner, judged.fallback, judged.deciles
            calibration = judged.calibration
            metrics |= judged.metrics
            tables["nba_policies"] = judged.table
            if deciles is not None:
                tables["uplift_deciles"] = deciles
            if fallback is not None:
                summary["policy_fallback"] = f"{fallback.policy}: {fallback.why}"
        bundle = ScoringBundle(
            pipeline=config.name,
            spec=bundle_spec(fcfg, config.labels, config.actions, config.experiment),
            catalog=catalog,
            encoder=result.encoder,
            models=result.models,
            info={
                "summary": summary,
                "metrics": metrics,
                "reference_profile": reference_profile(_training_rows(features, split)),
                "labelled_until": _labelled_until(frame, split, config),
                "nba_policies": tables["nba_policies"].to_dict("records")
                if "nba_policies" in tables
                else [],
                "policy_fallback": None if fallback is None else fallback.as_info(),
                "uplift_deciles": [] if deciles is None else deciles.to_dict("records"),
                "uplift_calibration": None if calibration is None else calibration.as_info(),
                "attributes": attribute_record(
                    profile, loaded.tables.get("attributes"), fcfg.pii_columns
                ),
            },
            uplift=uplift,
            survival=survival,
        )
        begin("explain")
        explained_tables, explained_figures = _explanations(bundle, features, result)
        tables |= explained_tables
        figures |= explained_figures
        example = synthetic_example(features)
    return Trained(bundle, result, metrics, tables, figures, summary, example, built, split, loaded)


def _without_pii_lookalikes(
    config: PipelineConfig, loaded: LoadedData
) -> tuple[PipelineConfig, dict[str, str]]:
    """The config with the customers columns whose values look like personal data (e-mails,
    phone or card numbers: `pii_lookalikes`) added to its PII columns, so no model, bundle or
    list ever uses them; `features.not_pii` names the ones that are safe."""
    fcfg = config.features
    found = pii_lookalikes(loaded.tables["customers"], fcfg.pii_columns, fcfg.not_pii)
    if not found:
        return config, found
    features = replace(fcfg, pii_columns=(*fcfg.pii_columns, *found))
    return config.model_copy(update={"features": features}), found


RECORD_STAGES = ("log run data", "log and register the model", "decide the champion")


def record(trained: Trained, config: PipelineConfig, show_progress: bool = True) -> RunRecord:
    """Log the run and register the bundle in MLflow (the only step that touches it)."""
    from cxml.jobs import tracking
    from cxml.jobs.gate import same_rows_judge
    from cxml.jobs.run_record import catalog_table, describe_run, input_tables, run_params

    texts = {
        "feature_list.txt": "\n".join(trained.bundle.feature_names) + "\n",
        "data_summary.json": json.dumps(trained.summary, indent=2, default=str) + "\n",
        # with the features as the model keeps them: a topic classifier, not its examples
        "config.json": config.model_copy(
            update={"features": trained.bundle.feature_config}
        ).model_dump_json(indent=2)
        + "\n",
    }
    metric = config.evaluation.promote_metric
    with stages("recording in MLflow", RECORD_STAGES, show_progress) as begin:
        return tracking.log_training(
            experiment=config.tracking.experiment,
            run_name=config.name,
            model_name=config.tracking.model_name,
            params=run_params(config, trained.split),
            metrics=trained.metrics,
            tables={**trained.tables, "feature_catalog": catalog_table(trained.bundle)},
            figures=trained.figures,  # type: ignore[arg-type]
            texts=texts,
            model=trained.bundle,
            input_example=trained.example,
            promote_metric=config.evaluation.promote_metric,
            pii_columns=config.features.pii_columns,
            judge=same_rows_judge(trained.frame, trained.backtest.results, metric),
            inputs=input_tables(trained.loaded, trained.frame, config),
            description=describe_run(config, trained.summary, trained.split, trained.bundle.models),
            begin=begin,
        )


def describe_training(summary: dict[str, object], metrics: dict[str, float]) -> list[str]:
    """What `cxml train` prints: sizes, cutoffs, rates and each target's test metrics."""
    lines = [
        f"{summary['training_rows']:,} training rows, {summary['features']} features, "
        f"{summary['quarantined_rows']:,} quarantined rows"
    ]
    for role in ("train", "validation", "test"):
        if f"{role}_cutoffs" in summary:
            lines.append(f"{role} cutoffs: {', '.join(summary[f'{role}_cutoffs'])}")  # type: ignore[arg-type]
    if "registered_models" in summary:
        lines.append(
            f"registered models: {summary['registered_models']} (refitted after the backtest)"
        )
    lookalikes = summary.get("pii_lookalikes_left_out")
    if isinstance(lookalikes, dict):
        for name, kind in lookalikes.items():
            lines.append(
                f"left out customers column {name!r}: its values look like {kind}; add it to "
                "features.not_pii if it is not personal data"
            )
    for target in ("churn", "satisfaction_drop"):
        if summary.get(f"test_{target}_rate") is not None:
            lines.append(
                f"{target} rate {summary[f'{target}_rate']} in the training rows, "
                f"{summary[f'test_{target}_rate']} in the test rows"
            )
        if f"{target}_roc_auc" not in metrics:
            continue
        line = (
            f"{target}: ROC-AUC {metrics[f'{target}_roc_auc']:.4f} "
            f"(baseline {metrics[f'{target}_baseline_roc_auc']:.4f}"
        )
        if f"{target}_oracle_roc_auc" in metrics:
            line += f", oracle {metrics[f'{target}_oracle_roc_auc']:.4f}"
        line += (
            f"), PR-AUC {metrics[f'{target}_pr_auc']:.4f}, Brier {metrics[f'{target}_brier']:.4f}, "
            f"ECE {metrics[f'{target}_ece']:.4f} (uncalibrated "
            f"{metrics[f'{target}_uncalibrated_ece']:.4f}), lift@10% "
            f"{metrics[f'{target}_lift_top10']:.2f}"
        )
        lines.append(line)
        if f"{target}_model" in summary:
            lines.append(f"{target}: shipped {summary[f'{target}_model']}")
    return lines


def write_metrics(trained: Trained, out: Path) -> Path:
    """The metrics and data summary as strict JSON: a metric that could not be computed (NaN)
    is null."""
    from cxml.data.io import write_json

    return write_json({"summary": trained.summary, "metrics": trained.metrics}, out)


EXPLAIN_ROWS = 5_000


def _explanations(
    bundle: ScoringBundle, features: pd.DataFrame, result: Backtest
) -> tuple[dict[str, pd.DataFrame], dict[str, object]]:
    """Global SHAP plots and touchpoint impact per target, on (a fixed sample of) the rows the
    model was judged on, for the run's record."""
    from cxml.models.explain import contributions, touchpoint_impact
    from cxml.report.figures import global_figures, touchpoint_figure

    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, object] = {}
    for target, judged in result.results.items():
        rows = features.loc[judged.index]
        if len(rows) > EXPLAIN_ROWS:
            rows = rows.sample(EXPLAIN_ROWS, random_state=0)
        matrix = bundle.encode(Table.of(rows))
        contrib = pd.DataFrame(
            contributions(bundle, target, matrix)[:, :-1], rows.index, bundle.feature_names
        )
        impact = touchpoint_impact(contrib, bundle.catalog)
        tables[f"{target}_touchpoints"] = impact
        figures[f"{target}_touchpoints"] = touchpoint_figure(impact, f"{target}: touchpoint impact")
        for name, figure in global_figures(contrib, rows).items():
            figures[f"{target}_{name}"] = figure
    return tables, figures


def _labelled_until(frame: pd.DataFrame, split: Split | None, config: PipelineConfig) -> str | None:
    """When the label windows the registered models learned from close (they were refitted on
    every cutoff); None for a snapshot judged by folds (its models saw every row)."""
    if split is None:
        return None
    last = max(frame.index.get_level_values("cutoff"))
    return str(last + pd.Timedelta(days=config.labels.horizon_days))


def _training_rows(features: pd.DataFrame, split: Split | None) -> pd.DataFrame:
    """The reference scoring-time drift is measured against: the rows of the most recent
    labelled cutoff before the test (the one the models were chosen and calibrated on), so a
    scoring base is compared with the latest base the models know, not with a pool of older
    ones whose customers were younger."""
    if split is None:
        return features
    recent = (split.validation or split.train)[-1:]
    return features[features.index.get_level_values("cutoff").isin(recent)]

"""Wiring for `cxml train`: read the data dir, build the training frame, backtest, record.

Reads and writes; the logic lives in features/ and models/. MLflow is reached only through
`jobs/tracking.py`, and only after everything else has worked.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.io import read_file
from cxml.data.load import LoadedData
from cxml.features.attributes import as_of, attribute_record, profile_columns
from cxml.features.build import build_features, feature_catalog
from cxml.features.dataset import Split, build_training_set, out_of_time_split
from cxml.features.table import Table
from cxml.jobs.inputs import cutoffs, load_inputs
from cxml.models.backtest import Backtest, cross_validated, out_of_time
from cxml.models.bundle import ScoringBundle, bundle_spec, synthetic_example
from cxml.models.drift import reference_profile
from cxml.models.report import evaluation_report
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
    frame: pd.DataFrame  # the training frame: features and labels keyed (customer_id, cutoff)
    split: Split | None  # the cutoffs' roles (None: judged by cross-validation)


def training_frame(
    config: PipelineConfig, loaded: LoadedData, at: list[pd.Timestamp]
) -> pd.DataFrame:
    """Features + label columns keyed (customer_id, cutoff): derived, or from the labels table."""
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    fcfg, history = config.features, loaded.tables.get("attributes")

    def features(ev: pd.DataFrame, cu: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
        return build_features(ev, as_of(cu, history, cutoff), cutoff, fcfg).frame()

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
    config: PipelineConfig, frame: pd.DataFrame, directions: dict[str, int] | None = None
) -> tuple[Backtest, Split | None]:
    """The models judged out of time (or by cross-validation for snapshots); `directions`:
    the catalog's, per feature, which the trees keep (see ModelConfig.monotone)."""
    targets = tuple(t for t in config.targets if t in frame.columns and frame[t].notna().any())
    model, folds = config.model, config.evaluation.folds
    if config.evaluation.kind == "cross_validation":
        return cross_validated(frame, targets, model, folds, directions), None
    at = sorted(set(frame.index.get_level_values("cutoff")))
    split = out_of_time_split(
        at, config.labels.horizon_days, config.cutoffs.n_test, config.cutoffs.n_validation
    )
    return out_of_time(frame, split, targets, model, directions), split


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
    """What the data was: sizes, cutoffs per role, label rates, what was quarantined."""
    summary: dict[str, object] = {
        "pipeline": config.name,
        "data_dir": str(config.data.dir),
        "customers": len(loaded.tables["customers"]),
        "events": len(loaded.tables["events"]),
        "quarantined_rows": loaded.quarantined_rows,
        "training_rows": len(frame),
        "features": len(frame.columns)
        - len([t for t in ("churn", "satisfaction_drop") if t in frame]),
    }
    for target in ("churn", "satisfaction_drop"):
        if target in frame:
            summary[f"{target}_labelled_rows"] = int(frame[target].notna().sum())
            summary[f"{target}_rate"] = round(float(frame[target].mean()), 4)
    if split is not None:
        for role in ("train", "validation", "test"):
            summary[f"{role}_cutoffs"] = [str(c.date()) for c in getattr(split, role)]
    return summary


def train(config: PipelineConfig) -> Trained:
    """Everything but tracking: load, build, backtest, evaluate, bundle."""
    loaded = load_inputs(config)
    frame = training_frame(config, loaded, cutoffs(config))
    fcfg = config.features
    features = frame.drop(columns=[c for c in ("churn", "satisfaction_drop") if c in frame])
    profile = profile_columns(loaded.tables["customers"], loaded.tables.get("attributes"))
    catalog = feature_catalog(profile, fcfg).loc[list(features.columns)]
    result, split = backtest(config, frame, catalog["direction"].to_dict())
    truth = read_truth(config, split)
    metrics, tables = evaluation_report(result, frame, truth, config.evaluation.segments)
    figures: dict[str, object] = {**evaluation_figures(tables, result.results)}
    summary = summarise(loaded, frame, split, config)
    uplift = None
    if config.actions is not None and split is not None:
        uplift, nba_metrics, nba_table = _actions(config, loaded, split, result, features, truth)
        metrics |= nba_metrics
        tables["nba_policies"] = nba_table
    bundle = ScoringBundle(
        pipeline=config.name,
        spec=bundle_spec(fcfg, config.labels, config.actions),
        catalog=catalog,
        encoder=result.encoder,
        models=result.models,
        info={
            "summary": summary,
            "metrics": metrics,
            "reference_profile": reference_profile(_training_rows(features, split)),
            "nba_policies": tables["nba_policies"].to_dict("records")
            if "nba_policies" in tables
            else [],
            "attributes": attribute_record(
                profile, loaded.tables.get("attributes"), fcfg.pii_columns
            ),
        },
        uplift=uplift,
    )
    explained_tables, explained_figures = _explanations(bundle, features, result)
    tables |= explained_tables
    figures |= explained_figures
    example = synthetic_example(features)
    return Trained(bundle, result, metrics, tables, figures, summary, example, frame, split)


def _actions(
    config: PipelineConfig,
    loaded: LoadedData,
    split: Split,
    result: Backtest,
    features: pd.DataFrame,
    truth: pd.DataFrame | None,
) -> tuple[object, dict[str, float], pd.DataFrame]:
    """Uplift learned before the test cutoff; the policy judged at it."""
    from cxml.jobs.nba import fit_uplift, policy_report

    at = split.test[0]
    learner, summary = fit_uplift(config, loaded, at)
    churn = result.results["churn"]
    at_test = churn.index.get_level_values("cutoff") == at
    ids = churn.index[at_test].get_level_values("customer_id")
    risk = pd.Series(churn.model[at_test], index=ids)
    test_features = features.loc[churn.index[at_test]].set_axis(ids)
    realised = pd.Series(churn.y[at_test], index=ids)
    metrics, table = policy_report(
        config, learner, test_features, risk, loaded.tables.get("actions"), at, truth, realised
    )
    metrics |= {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}
    return learner, metrics, table


def record(trained: Trained, config: PipelineConfig) -> RunRecord:
    """Log the run and register the bundle in MLflow (the only step that touches it)."""
    from cxml.jobs import tracking

    params = {f"model.{k}": v for k, v in asdict(config.model).items()}
    params |= {f"labels.{k}": v for k, v in asdict(config.labels).items()}
    params |= {"features.windows": config.features.windows, "pipeline": config.name}
    texts = {
        "feature_list.txt": "\n".join(trained.bundle.feature_names) + "\n",
        "data_summary.json": json.dumps(trained.summary, indent=2, default=str) + "\n",
        "config.json": config.model_dump_json(indent=2) + "\n",
    }
    return tracking.log_training(
        experiment=config.tracking.experiment,
        run_name=config.name,
        model_name=config.tracking.model_name,
        params=params,
        metrics=trained.metrics,
        tables={**trained.tables, "feature_catalog": _catalog_table(trained)},
        figures=trained.figures,  # type: ignore[arg-type]
        texts=texts,
        model=trained.bundle,
        input_example=trained.example,
        promote_metric=config.evaluation.promote_metric,
        pii_columns=config.features.pii_columns,
    )


def write_metrics(trained: Trained, out: Path) -> Path:
    from cxml.data.io import write_atomic

    payload = {"summary": trained.summary, "metrics": trained.metrics}
    text = json.dumps(payload, indent=2, default=str) + "\n"
    return write_atomic(out, lambda tmp: tmp.write_text(text))


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


def _training_rows(features: pd.DataFrame, split: Split | None) -> pd.DataFrame:
    """The rows the models learned from: the reference that scoring-time drift is measured
    against."""
    if split is None:
        return features
    return features[features.index.get_level_values("cutoff").isin(split.train)]


def _catalog_table(trained: Trained) -> pd.DataFrame:
    """The catalog with its index as a `feature` column (a column called `name` reads as PII)."""
    return trained.bundle.catalog.rename_axis("feature").reset_index()

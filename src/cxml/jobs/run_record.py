"""What a training run's MLflow record holds beside the model: the settings as params, a
description, the input tables as datasets and the feature catalog as a table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING

import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.load import LoadedData
from cxml.features.dataset import Split
from cxml.features.labels import describe_churn
from cxml.jobs.inputs import cutoffs
from cxml.models.bundle import ScoringBundle

if TYPE_CHECKING:
    from cxml.jobs.logged import InputTable


def run_params(config: PipelineConfig, split: Split | None) -> dict[str, object]:
    """The settings a reader of the run looks for first, as MLflow params: the cutoffs and
    their roles, the label horizon and churn definition, the model's settings (calibration
    among them), and the action learner and budget."""
    days = [str(c.date()) for c in cutoffs(config)]
    params: dict[str, object] = {"pipeline": config.name, "data.dir": str(config.data.dir)}
    params |= {"cutoffs": ", ".join(days), "cutoffs.count": len(days)}
    if split is not None:
        for role in ("train", "validation", "test"):
            params[f"cutoffs.{role}"] = ", ".join(str(c.date()) for c in getattr(split, role))
    params |= {f"model.{k}": v for k, v in asdict(config.model).items()}
    params |= {f"labels.{k}": v for k, v in asdict(config.labels).items()}
    params |= {"features.windows": config.features.windows}
    if config.actions is not None:
        actions = config.actions
        params |= {"actions.learner": actions.learner, "actions.budget": actions.budget}
        params |= {"actions.allocation": actions.allocation, "actions.outcome": actions.outcome}
        params["actions.catalog"] = ", ".join(a.name for a in actions.catalog)
    return params


def describe_run(
    config: PipelineConfig,
    summary: Mapping[str, object],
    split: Split | None,
    targets: Iterable[str],
) -> str:
    """The run's description in MLflow (Markdown): what was learned (a model per target),
    from what (the training summary), judged how."""
    labels = config.labels
    lines = [
        f"cxml training of pipeline **{config.name}** on `{config.data.dir}`.",
        "",
        f"- churn: {describe_churn(labels)}; horizon {labels.horizon_days} days",
        f"- cutoffs: {run_params(config, split)['cutoffs']}",
        f"- training rows: {summary.get('training_rows', '')}; "
        f"customers: {summary.get('customers', '')}",
    ]
    for target in targets:
        lines.append(f"- {target}: {summary.get(f'{target}_model', '')}")
    judged = "out of time" if split is not None else "by cross-validation"
    lines.append(f"- judged {judged}; champion decided on `{config.evaluation.promote_metric}`")
    return "\n".join(lines)


def input_tables(
    loaded: LoadedData, rows: pd.DataFrame, config: PipelineConfig
) -> list[InputTable]:
    """The data dir's tables and the training rows, as MLflow datasets (digests, not rows)."""
    from cxml.data.io import find_table
    from cxml.jobs.logged import InputTable

    data_dir = config.data.dir
    inputs = [
        InputTable(name, frame, str(find_table(data_dir, name) or data_dir))
        for name, frame in loaded.tables.items()
    ]
    inputs.append(InputTable("training_rows", rows.reset_index(), str(data_dir), context="train"))
    return inputs


def catalog_table(bundle: ScoringBundle) -> pd.DataFrame:
    """The catalog with its index as a `feature` column (a column called `name` reads as PII)."""
    return bundle.catalog.rename_axis("feature").reset_index()

"""Wiring for `cxml export`: a registered version as a self-contained MLflow model in
`<out>/<model name>/<version>/` that answers as `cxml score` does where cxml is not installed
(`scoring/answer.py`), with its model card as README.md beside it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cxml.actions.history import contact_history, history_columns
from cxml.config import PipelineConfig
from cxml.data.io import replace_dir
from cxml.data.schema import utc_timestamp
from cxml.jobs.score import base_features, load_scorer
from cxml.models.bundle import ScoringBundle
from cxml.report.card import model_card_markdown
from cxml.scoring.answer import CUTOFF, EXPLAIN_TOP, ID, Answer, example_rows, feature_columns

#: What `predict` takes besides the rows (MLflow `params`), with the defaults of `cxml score`.
PARAMS = {"explain_top": EXPLAIN_TOP, "per_customer": False}


def history_words(bundle: ScoringBundle) -> dict[str, str]:
    """Each contact history column the answer reads, and what it holds."""
    if bundle.actions is None:
        return {}
    words = {}
    for column in history_columns(bundle.actions):
        if column.kind == "last":
            words[column.name] = (
                f"when {column.key} was last logged before the cutoff (its cooldown is "
                f"{column.days} days; older or never: empty)"
            )
        else:
            words[column.name] = (
                f"contacts logged on {column.key} in the {column.days} days before the cutoff"
            )
    return words


def input_types(bundle: ScoringBundle) -> dict[str, str]:
    """Every input column and its type, as the model card lists them."""
    types = {ID: "string", CUTOFF: "datetime (UTC)", **feature_columns(bundle)}
    if bundle.actions is not None:
        for column in history_columns(bundle.actions):
            types[column.name] = "datetime (UTC)" if column.kind == "last" else "double"
    return types


def example_cutoff(bundle: ScoringBundle) -> pd.Timestamp:
    """A cutoff for the example rows: the run's last test cutoff, else when its labels end."""
    summary = bundle.info.get("summary")
    tested = summary.get("test_cutoffs") if isinstance(summary, dict) else None
    found = tested[-1] if tested else bundle.info.get("labelled_until")
    return pd.Timestamp(str(found or "2000-01-01"), tz="UTC")


def answer_input(config: PipelineConfig, cutoff: str, bundle: ScoringBundle) -> pd.DataFrame:
    """The exported model's input for the config's data dir at `cutoff`: everyone `cxml score`
    scores there, their features and their contact history from the actions log. Times are
    naive UTC, as MLflow signatures take them."""
    from cxml.jobs.inputs import load_inputs

    at = utc_timestamp(cutoff)
    loaded = load_inputs(config)
    rows = base_features(loaded, bundle, at, config.data.dir).frame()
    if bundle.actions is not None:
        log = loaded.tables.get("actions")
        rows = rows.join(contact_history(log, rows.index, bundle.actions, at))
    rows = rows.rename_axis(ID).reset_index()
    rows.insert(1, CUTOFF, at)
    for name in rows.select_dtypes("datetimetz").columns:
        rows[name] = rows[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return rows


def run_export(config: PipelineConfig, ref: str = "champion", out: Path = Path("models")) -> Path:
    """Export the registered version `ref` (alias or version) of the config's model; the
    folder is replaced as a whole, so a failed export leaves the previous one as it was."""
    from cxml.jobs import tracking

    scorer = load_scorer(config.tracking.model_name, ref)
    bundle = scorer.bundle
    answer = Answer(scorer)
    example = example_rows(bundle, example_cutoff(bundle))
    outputs = list(answer.predict(example).columns)
    name, version = scorer.model_name, scorer.model_version
    types, words = input_types(bundle), history_words(bundle)
    card = model_card_markdown(bundle, name, version, types, outputs, words)
    pii = (*bundle.feature_config.pii_columns, *config.features.pii_columns)

    def write(folder: Path) -> None:
        tracking.save_self_contained(folder, answer, example, PARAMS, pii)
        (folder / "README.md").write_text(card, encoding="utf-8")

    return replace_dir(out / name / version, write)

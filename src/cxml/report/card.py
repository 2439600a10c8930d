"""The model card of an exported model (its README.md): what it answers, the data it learned
from, how well it did on held-out rows, what it reads and its limits, all from the bundle's own
record (`info`, `spec`, catalog), so the card cannot disagree with the model it describes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from cxml.features.labels import describe_churn
from cxml.models.bundle import ScoringBundle
from cxml.models.report import describe_choice
from cxml.report.evidence import metric_words
from cxml.report.format import date, num
from cxml.report.page import environment

#: The held-out metrics a card shows per target, in this order.
CARD_METRICS = ("roc_auc", "baseline_roc_auc", "pr_auc", "brier", "ece", "lift_top10")
INPUT_WORDS = {
    "customer_id": "who",
    "cutoff": "the time the features were built at (naive times are UTC)",
}
OUTPUT_WORDS = {
    "customer_id": "the input's id",
    "cutoff": "the input's cutoff",
    "churn_probability": "calibrated probability of churning within the horizon",
    "churn_risk_band": "high / medium / low: odds of churning 3x / 1.5x the training rate",
    "churn_rank": "1 = riskiest among the rows of this cutoff in the call",
    "satisfaction_drop_probability": "calibrated probability of a satisfaction drop",
    "survival_30d": "the chance of still being a customer 30 days on (time-to-churn model)",
    "survival_90d": "the same, 90 days on",
    "survival_180d": "the same, 180 days on",
    "survival_365d": "the same, 365 days on",
    "expected_tenure_days": "expected days as a customer within the next year",
    "lifetime_value": "margin expected over the customer value's months, while they stay",
    "reason_1": "what raises the risk most, in words (empty: not explained)",
    "reason_2": "the second reason",
    "reason_3": "the third reason",
    "reason_family_1": "the family of reason 1 (support, payment, activity, ...)",
    "explained": "whether reasons were computed (the riskiest `explain_top` share)",
    "action_cost": "the action's cost",
    "action_uplift": "the fall in churn probability the action is expected to cause",
    "action_reason": "why this action, in words",
    "customer_value": "the value the gain is reckoned on (actions.value.rule: fixed or lifetime)",
    "action": "the recommended action (`none`: nothing worth its cost, or not allowed)",
    "action_expected_gain": "uplift x customer value - cost, in money",
    "runner_up_action": "the next best allowed action",
    "model_name": "the registered model it was exported from",
    "model_version": "its version",
    "scored_at": "when the answer was computed (UTC)",
}


def _cell(text: object) -> str:
    """Text for one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _what(template: str) -> str:
    """A catalog template in words with the value left out: '… logins in the last 30 days'."""
    return re.sub(r"\{value[^}]*\}", "…", template)


def _metrics(bundle: ScoringBundle) -> list[tuple[str, str]]:
    found = bundle.info.get("metrics", {})
    metrics = found if isinstance(found, Mapping) else {}
    rows = []
    for target in bundle.models:
        for name in CARD_METRICS:
            if f"{target}_{name}" in metrics:
                label = metric_words(f"{target}_{name}").replace("lift top10", "lift in top 10%")
                rows.append((label, num(metrics[f"{target}_{name}"], 3)))
    return rows


def _window(bundle: ScoringBundle) -> list[tuple[str, str]]:
    found = bundle.info.get("summary", {})
    summary = found if isinstance(found, Mapping) else {}
    facts = [("pipeline", bundle.pipeline)]
    for role in ("train", "validation", "test"):
        cutoffs = summary.get(f"{role}_cutoffs")
        if cutoffs:
            facts.append((f"{role} cutoffs", ", ".join(map(str, cutoffs))))
    facts += [
        ("horizon", f"{bundle.horizon_days} days"),
        ("churn means", describe_churn(bundle.labels)),
        ("labels known until", date(bundle.info.get("labelled_until"))),
        ("training rows", num(summary.get("training_rows"))),
        ("test rows", num(summary.get("test_rows"))),
        ("training churn rate", num(summary.get("churn_rate"), 4)),
    ]
    return facts


def model_card_markdown(
    bundle: ScoringBundle,
    model_name: str,
    version: str,
    inputs: Mapping[str, str],
    outputs: list[str],
    history: Mapping[str, str],
) -> str:
    """The card as Markdown. `inputs`: the input columns and their types; `outputs`: the
    answer's columns; `history`: what a column that is not a feature holds."""
    catalog = bundle.catalog
    features = [
        (
            name,
            inputs.get(str(name), ""),
            row["family"],
            num(row["window_days"]),
            _cell(_what(str(row["template"]))),
        )
        for name, row in catalog.iterrows()
    ]
    words = {**INPUT_WORDS, **history}
    others = [(n, t, _cell(words.get(n, ""))) for n, t in inputs.items() if n not in catalog.index]
    found = bundle.info.get("attributes")
    attributes = found if isinstance(found, Mapping) else {}
    values = {
        "name": model_name,
        "pipeline": bundle.pipeline,
        "version": version,
        "window": [(k, _cell(v)) for k, v in _window(bundle)],
        "metrics": _metrics(bundle),
        "out_of_time": any(label == "test cutoffs" for label, _ in _window(bundle)),
        "models": [(t, _cell(describe_choice(m))) for t, m in bundle.models.items()],
        "inputs": others,
        "outputs": [(n, _cell(OUTPUT_WORDS.get(n, ""))) for n in outputs],
        "features": features,
        "static": ", ".join(attributes.get("static", [])) or "none",
        "with_history": ", ".join(attributes.get("with_history", [])) or "none",
        "actions": bundle.actions,
        "horizon_days": bundle.horizon_days,
    }
    env = environment().overlay(autoescape=False)  # Markdown, not HTML
    return env.get_template("model-card.md.j2").render(**values)

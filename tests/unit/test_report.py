"""report.html: sections present, top list ranked and escaped, self-contained, graceful gaps."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cxml.config import LabelConfig
from cxml.models.drift import psi, reference_profile
from cxml.report import SECTIONS, ReportContext, render_report
from cxml.report.kpis import nps_trend, retention_rate
from cxml.report.tenure import band_curves, value_matrix, value_tiers

ACTIONS = ["discount", "support_callback", "loyalty_upgrade", "education_email", "none"]
ACTION_COLUMNS = [
    "action",
    "action_expected_gain",
    "action_cost",
    "action_reason",
    "runner_up_action",
]
REASONS = [
    "3 support tickets in the last 30 days",
    "12 days since the last login",
    "a failed payment in the last 90 days",
    "spend in the last 30 days at 0.4x the usual",
    "an NPS answer of 4 (detractor)",
]
HOSTILE = '<script>alert("x")</script> & more'


def sample_scored(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """A scored list like `cxml score` writes, with fake ids and no PII."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(1.2, 9.0, n), 0.001, 0.99)
    order = np.argsort(-p, kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    explained = rank <= int(0.3 * n)
    picks = [rng.choice(len(REASONS), 3, replace=False) for _ in range(n)]
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(1, n + 1)],
            "cutoff": pd.Timestamp("2024-06-01", tz="UTC"),
            "churn_probability": p,
            "churn_risk_band": np.where(p >= 0.3, "high", np.where(p >= 0.15, "medium", "low")),
            "churn_rank": rank,
            "satisfaction_drop_probability": np.clip(rng.beta(1.5, 8.0, n), 0, 1),
            "explained": explained,
        }
    )
    for k in range(3):
        text = [REASONS[pick[k]] if e else "" for pick, e in zip(picks, explained, strict=True)]
        frame[f"reason_{k + 1}"] = text
        frame[f"reason_family_{k + 1}"] = np.where(explained, "support", "")
    action = np.where(rank <= 120, rng.choice(ACTIONS[:4], n), "none")
    cost = pd.Series(action).map(
        {
            "discount": 25.0,
            "support_callback": 12.0,
            "loyalty_upgrade": 40.0,
            "education_email": 0.5,
        }
    )
    frame["action"] = action
    frame["action_cost"] = cost.fillna(0.0).to_numpy()
    frame["action_expected_gain"] = np.where(action == "none", 0.0, p * 300 - frame["action_cost"])
    frame["action_reason"] = np.where(action == "none", "", "addresses: support tickets")
    frame["runner_up_action"] = "education_email"
    hazard = -np.log1p(-p) / 90  # daily, so that survival at 90 days is 1 - p
    for days in (30, 90, 180, 365):
        frame[f"survival_{days}d"] = np.exp(-hazard * days)
    frame["expected_tenure_days"] = (1 - np.exp(-hazard * 365)) / hazard
    frame["lifetime_value"] = rng.uniform(50, 500, n) * frame["survival_180d"]
    frame["model_name"] = "cxml-churn"
    frame["model_version"] = "7"
    frame["scored_at"] = pd.Timestamp("2024-06-02 06:00", tz="UTC")
    return frame


def sample_drift(shift: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            "spend_90d": rng.gamma(2.0, 50.0, 1000),
            "n_support_ticket_30d": rng.poisson(1.0, 1000),
            "plan": rng.choice(["basic", "plus", "pro"], 1000),
        }
    )
    later = train.assign(spend_90d=train["spend_90d"] * 2 + 30) if shift else train
    return psi(reference_profile(train), later)


def sample_context(scored: pd.DataFrame, **changes: object) -> ReportContext:
    months = [f"2023-{m:02d}" for m in range(7, 13)] + [f"2024-{m:02d}" for m in range(1, 7)]
    values = {
        "model_name": "cxml-churn",
        "model_version": "7",
        "cutoff": pd.Timestamp("2024-06-01", tz="UTC"),
        "horizon_days": 90,
        "customer_value": pd.Series(
            np.linspace(50, 500, len(scored)), index=scored["customer_id"].to_numpy()
        ),
        "budget": 3000.0,
        "policy_values": pd.DataFrame(
            {
                "policy": ["model", "no_action", "best_average_action", "top_risk_best_average"],
                "expected_value": [41.0, 30.0, 33.5, 36.0],
                "low": [38.0, 28.5, 31.0, 33.0],
                "high": [44.0, 31.5, 36.0, 39.0],
            }
        ),
        "touchpoints": pd.DataFrame(
            {
                "kind": ["channel", "channel", "channel", "event_type", "event_type", "event_type"],
                "touchpoint": ["call_centre", "app", "web", "support_ticket", "login", "purchase"],
                "mean_contribution": [0.21, -0.05, 0.02, 0.30, -0.12, -0.08],
                "mean_abs_contribution": [0.25, 0.10, 0.05, 0.35, 0.20, 0.15],
                "share_of_abs": [0.625, 0.25, 0.125, 0.5, 0.2857, 0.2143],
            }
        ),
        "drift": sample_drift(),
        "nps": pd.DataFrame(
            {
                "month": months,
                "nps": [12, 10, 14, 9, 8, np.nan, 5, 4, 6, 2, 1, -3],
                "responses": [40, 38, 45, 41, 39, 0, 42, 44, 37, 40, 43, 41],
            }
        ),
        "retention_rate": 0.934,
        "earlier": pd.DataFrame(
            {
                "cutoff": pd.to_datetime(["2024-01-01", "2024-02-01"], utc=True),
                "customers": [290, 295],
                "realised_auc": [0.78, 0.74],
                "expected_churners": [31.0, 30.0],
                "realised_churners": [29, 41],
                "ece": [0.021, 0.043],
                "lift_top10": [3.4, 2.9],
            }
        ),
        "training_metrics": {"churn_roc_auc": 0.79, "churn_brier": 0.081, "churn_ece": 0.012},
        "currency": "€",
    }
    values.update(changes)
    return ReportContext(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return sample_scored()


@pytest.fixture(scope="module")
def page(scored: pd.DataFrame) -> str:
    """The report with every context piece (rendering draws five figures: done once)."""
    return render_report(scored, sample_context(scored))


def _section(page: str, ident: str) -> str:
    match = re.search(rf'<section id="{ident}">(.*?)</section>', page, flags=re.S)
    assert match, f"section {ident} not found"
    return match.group(1)


def test_every_section_is_present(page: str) -> None:
    for ident, _title, _build in SECTIONS:
        assert f'<section id="{ident}">' in page
    # nps, risk, actions, survival, policy, touchpoints
    assert page.count("data:image/png;base64,") == 6


def test_top_table_is_sorted_by_rank_and_escapes_reasons(scored: pd.DataFrame) -> None:
    shuffled = scored.sample(frac=1.0, random_state=1).reset_index(drop=True)
    riskiest = shuffled.index[shuffled["churn_rank"] == 1][0]
    shuffled.loc[riskiest, "reason_1"] = HOSTILE
    page = render_report(shuffled, sample_context(shuffled))
    top = _section(page, "top-customers")
    ranks = [int(r) for r in re.findall(r'<tr><td class="n">(\d+)</td>', top)]
    assert ranks == list(range(1, 51))
    assert HOSTILE in [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", top)]
    assert "<script" not in page


def test_every_text_from_the_data_is_escaped(scored: pd.DataFrame) -> None:
    """Texts that come from data or configuration (reasons, actions, ids, model and feature
    names, policies, touchpoints) are shown as text, never read as markup."""
    hostile = scored.assign(
        reason_2=HOSTILE,
        action_reason=HOSTILE,
        action=np.where(scored["action"] == "none", "none", HOSTILE),
        customer_id=[f"{HOSTILE}{i}" for i in range(len(scored))],
        model_name=HOSTILE,
    )
    context = sample_context(hostile, model_name=None, currency='<img src="x">')
    context.touchpoints.loc[0, "touchpoint"] = HOSTILE  # type: ignore[union-attr]
    context.policy_values.loc[0, "policy"] = HOSTILE  # type: ignore[union-attr]
    context.drift.loc[0, "feature"] = HOSTILE  # type: ignore[union-attr]
    page = render_report(hostile, context)
    assert "<script" not in page.lower() and '<img src="x">' not in page
    assert page.count("&lt;script&gt;") > 50
    for ident, _title, _build in SECTIONS:
        _section(page, ident)  # the page's own structure is intact


def test_page_links_nowhere_but_itself(page: str) -> None:
    quote = "[\"']?"
    sources = re.findall(rf"\bsrc\s*=\s*{quote}([^\"'\s>]*)", page, flags=re.I)
    links = re.findall(rf"\bhref\s*=\s*{quote}([^\"'\s>]*)", page, flags=re.I)
    assert len(sources) == 6 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert links and all(link.startswith("#") for link in links)
    assert not re.search(rf"(src|href)\s*=\s*{quote}\s*(https?:)?//", page, flags=re.I)


def test_page_is_self_contained(page: str) -> None:
    lower = page.lower()
    for forbidden in ("http://", "https://", "<script src", "<link", "@import", "url("):
        assert forbidden not in lower
    assert set(re.findall(r'src="([a-z]+):', lower)) == {"data"}


def test_only_scored_list_columns_reach_the_page(scored: pd.DataFrame) -> None:
    with_pii = scored.assign(email="jane.doe@example.org", name="Jane Doe")
    page = render_report(with_pii, sample_context(with_pii))
    assert "jane" not in page.lower()


def test_absent_action_columns_give_a_note(scored: pd.DataFrame) -> None:
    bare = scored.drop(columns=ACTION_COLUMNS)
    page = render_report(bare, sample_context(bare))
    assert 'id="actions-absent"' in _section(page, "actions")
    assert "action columns" in _section(page, "actions")
    assert 'id="top-no-actions"' in page
    assert all(f'<section id="{i}">' in page for i, _t, _b in SECTIONS)


def test_drift_warning_only_when_something_drifted(scored: pd.DataFrame) -> None:
    drifted = render_report(scored, sample_context(scored, drift=sample_drift(shift=True)))
    assert 'id="drift-warning"' in drifted
    assert "spend_90d" in _section(drifted, "drift")
    stable = render_report(scored, sample_context(scored, drift=sample_drift(shift=False)))
    assert 'id="drift-warning"' not in stable
    assert "Every feature is stable" in _section(stable, "drift")


def test_minimal_context_renders_notes_not_errors(scored: pd.DataFrame) -> None:
    page = render_report(
        scored[["customer_id", "churn_probability", "churn_risk_band", "churn_rank"]]
    )
    assert 'id="earlier-none"' in page
    assert "No policy evaluation" in page
    assert "drift was not checked" in page
    assert all(f'<section id="{i}">' in page for i, _t, _b in SECTIONS)


def test_older_scorings_left_unjudged_are_counted_not_hidden(scored: pd.DataFrame) -> None:
    judged = render_report(scored, sample_context(scored, earlier_older=3))
    assert "3 older scorings whose window has closed are not judged here" in judged
    assert "2024-02-01" in judged and 'id="earlier-none"' not in judged
    alone = render_report(scored, sample_context(scored, earlier=None, earlier_older=1))
    assert "1 older scoring whose window has closed is not judged" in alone
    assert 'id="earlier-none"' not in alone  # one has closed: not "nothing to check yet"
    assert 'id="earlier-older"' not in render_report(scored, sample_context(scored))


def test_missing_required_column_says_what_to_do(scored: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="churn_rank"):
        render_report(scored.drop(columns="churn_rank"), ReportContext())


def test_same_inputs_same_page_but_the_timestamp(scored: pd.DataFrame, page: str) -> None:
    def strip(text: str) -> str:
        return re.sub(r'<p class="generated">.*?</p>', "", text)

    again = render_report(scored.copy(), sample_context(scored))
    assert 'class="generated">Generated at ' in again
    assert strip(page) == strip(again)


def test_headline_numbers(scored: pd.DataFrame) -> None:
    value = pd.Series(100.0, index=scored["customer_id"].to_numpy())
    kpis = _section(render_report(scored, sample_context(scored, customer_value=value)), "kpis")
    assert f"{len(scored):,}" in kpis
    expected = scored["churn_probability"].sum()
    assert f"{expected:,.0f}" in kpis
    assert f"€{expected * 100:,.0f}" in kpis
    assert "93.4%" in kpis
    assert ">−3<" in kpis  # the latest NPS (June 2024), against March's 6
    assert "Jun 2024; ▼ 9 points since Mar 2024" in kpis


def test_budget_use_and_overspend_warning(scored: pd.DataFrame) -> None:
    spend = scored.loc[scored["action"] != "none", "action_cost"].sum()
    fine = _section(render_report(scored, sample_context(scored, budget=spend * 2)), "actions")
    assert "50.0% of the" in fine and 'id="budget-over"' not in fine
    over = _section(render_report(scored, sample_context(scored, budget=spend / 2)), "actions")
    assert 'id="budget-over"' in over


# --- nps_trend and retention_rate, by hand -------------------------------------------------


def _events(rows: list[tuple[str, str, str, float | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "event_time", "event_type", "value"])
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True, format="ISO8601")
    return frame


def test_nps_trend_by_hand() -> None:
    events = _events(
        [
            ("a", "2024-04-03", "survey_nps", 10),  # April: promoter
            ("b", "2024-04-20", "survey_nps", 9),  # April: promoter
            ("c", "2024-04-21", "survey_nps", 7),  # April: passive
            ("d", "2024-04-30 23:59", "survey_nps", 3),  # April: detractor
            ("a", "2024-05-10", "survey_nps", 6),  # May: detractor (6 detracts)
            ("b", "2024-05-11", "survey_csat", 1),  # not an NPS answer: ignored
            ("c", "2024-05-12", "survey_nps", None),  # no score: ignored
            ("d", "2024-06-01", "survey_nps", 10),  # at `until`: excluded (strictly before)
            ("e", "2024-01-15", "survey_nps", 10),  # before the 3-month window: excluded
        ]
    )
    trend = nps_trend(events, pd.Timestamp("2024-06-01", tz="UTC"), months=3)
    assert trend["month"].tolist() == ["2024-03", "2024-04", "2024-05"]
    assert trend["responses"].tolist() == [0, 4, 1]
    assert np.isnan(trend["nps"].iloc[0])  # no answers in March
    assert trend["nps"].iloc[1] == pytest.approx(100 * (2 - 1) / 4)
    assert trend["nps"].iloc[2] == pytest.approx(-100.0)


def test_nps_trend_includes_the_partial_month() -> None:
    events = _events([("a", "2024-06-10", "survey_nps", 9), ("b", "2024-06-20", "survey_nps", 9)])
    trend = nps_trend(events, "2024-06-15", months=2)
    assert trend["month"].tolist() == ["2024-05", "2024-06"]
    assert trend["responses"].tolist() == [0, 1]  # the 20th is after `until`
    assert trend["nps"].iloc[1] == pytest.approx(100.0)


def test_nps_trend_without_the_optional_value_column_has_no_answers() -> None:
    events = _events([("a", "2024-06-10", "survey_nps", 9)]).drop(columns="value")
    trend = nps_trend(events, "2024-06-15", months=2)
    assert trend["responses"].tolist() == [0, 0]
    assert trend["nps"].isna().all()


NINETY = LabelConfig(horizon_days=90)


def test_retention_rate_by_hand() -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "signup_time": pd.to_datetime(
                ["2023-01-01", "2023-01-01", "2023-01-01", "2024-05-01", "2023-01-01"], utc=True
            ),
        }
    )
    events = _events(
        [
            ("a", "2024-02-01", "login", None),
            ("b", "2024-04-10", "cancel", None),  # cancelled in the 90 days: not retained
            ("c", "2024-06-01", "cancel", None),  # cancelled at the cutoff: still retained
            ("d", "2024-05-20", "cancel", None),  # joined after cutoff − 90 days: not counted
            ("e", "2024-01-05", "cancel", None),  # gone before the period: not counted
        ]
    )
    rate = retention_rate(events, customers, pd.Timestamp("2024-06-01", tz="UTC"), NINETY)
    assert rate == pytest.approx(2 / 3)  # a and c of a, b, c


def test_retention_follows_an_inactivity_churn_definition() -> None:
    """Nobody cancels, yet customers who stopped buying were not retained."""
    customers = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "signup_time": pd.to_datetime(["2023-01-01"] * 3)}
    )
    events = _events(
        [
            ("a", "2024-02-15", "purchase", 10.0),  # active in the look-back ...
            ("a", "2024-04-15", "purchase", 10.0),  # ... and again in the window: retained
            ("b", "2024-02-20", "purchase", 10.0),  # active in the look-back, then silent: lost
            ("c", "2023-06-01", "purchase", 10.0),  # lapsed before the look-back: not counted
        ]
    )
    labels = LabelConfig(horizon_days=90, churn="inactivity", activity_types=("purchase",))
    assert retention_rate(events, customers, "2024-06-01", labels) == pytest.approx(1 / 2)


def test_retention_rate_without_customers_is_nan() -> None:
    customers = pd.DataFrame({"customer_id": ["a"], "signup_time": pd.to_datetime(["2024-05-30"])})
    events = _events([])
    assert np.isnan(retention_rate(events, customers, "2024-06-01", NINETY))


def test_the_model_card_lists_the_static_attributes(scored: pd.DataFrame) -> None:
    minimal = scored[["customer_id", "churn_probability", "churn_risk_band", "churn_rank"]]
    attributes = {"with_history": ["plan"], "static": ["region", "segment"]}
    card = _section(render_report(minimal, ReportContext(attributes=attributes)), "model-card")
    assert "assumed constant over time" in card and "region, segment" in card
    assert "from their history: plan" in card
    unknown = _section(render_report(minimal), "model-card")  # a model trained before the record
    assert "does not say which attributes had a history" in unknown


def test_tenure_shows_curves_by_band_and_where_value_meets_risk(scored: pd.DataFrame) -> None:
    curves = band_curves(scored)
    assert list(curves.columns) == [0, 30, 90, 180, 365]
    assert (np.diff(curves.to_numpy(), axis=1) <= 0).all()  # survival falls in time
    assert curves.loc["high", 365] < curves.loc["low", 365]  # and faster for the risky
    header, rows = value_matrix(scored, "€")
    assert header[0] == "risk band" and len(rows) == 3
    counted = [int(cell.split(" · ")[0]) for row in rows for cell in row[1:] if cell != "—"]
    assert sum(counted) == len(scored)  # every customer in exactly one cell
    top = value_tiers(scored["lifetime_value"]) == "top third"
    assert scored.loc[top, "lifetime_value"].min() >= scored.loc[~top, "lifetime_value"].max()
    section = _section(render_report(scored, sample_context(scored)), "tenure")
    assert "Where to act" in section and "acted on" in section
    bare = scored.drop(columns=[c for c in scored if c.startswith("survival_")])
    assert 'id="tenure-absent"' in _section(render_report(bare, sample_context(bare)), "tenure")


def test_the_lifetime_rule_names_its_value_at_risk(scored: pd.DataFrame) -> None:
    context = replace(sample_context(scored), value_rule="lifetime")
    kpis = _section(render_report(scored, context), "kpis")
    assert "Lifetime value at risk" in kpis and "Revenue at risk" not in kpis

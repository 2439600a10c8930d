"""Behaviour a retention team can rely on, whatever the data: more of a bad sign never lowers a
risk, and neither the order of the rows nor the names of the ids change a score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxml.config import PipelineConfig, load_config
from cxml.data.load import load_data_dir
from cxml.jobs.ingest import run_simulate
from cxml.jobs.train import train
from cxml.scoring import Scorer, scoring_population
from tests.helpers import SMALL_SURVIVAL

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
AT = pd.Timestamp("2025-06-30", tz="UTC")
PROBABILITIES = ["churn_probability", "satisfaction_drop_probability"]


def small_config(data_dir: Path) -> PipelineConfig:
    raw = load_config(PIPELINES / "demo.yaml", data_dir=data_dir).model_dump()
    raw["model"] |= {
        "max_rounds": 120,
        "early_stopping_rounds": 20,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-07-01"
    return PipelineConfig.model_validate(raw)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Scorer, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    data = tmp_path_factory.mktemp("behaviour") / "data"
    run_simulate(data, customers=2000, seed=11)
    scorer = Scorer(train(small_config(data)).bundle, "behaviour", "1")
    tables = load_data_dir(data).tables
    events, customers = tables["events"], tables["customers"]
    population = scoring_population(events, customers, AT)
    return scorer, events, population, tables["actions"]


def _scored(scorer: Scorer, events, customers, log=None) -> pd.DataFrame:
    features = scorer.bundle.features(events, customers, AT)
    return scorer.score(features, AT, None, log).frame()


def _with_each(events: pd.DataFrame, customers: pd.DataFrame, kind: str, n: int) -> pd.DataFrame:
    """`n` more events of `kind` for every customer, the day before the cutoff (unresolved
    when tickets: no resolution time)."""
    ids = np.repeat(customers["customer_id"].astype(str).to_numpy(), n)
    extra = pd.DataFrame(
        {
            "customer_id": ids,
            "event_time": AT - pd.Timedelta(days=1),
            "event_type": kind,
            "value": np.nan,
        }
    )
    return pd.concat([events.astype({"customer_id": str}), extra], ignore_index=True)


@pytest.mark.parametrize("kind", ["support_ticket", "payment_failed", "complaint"])
def test_more_of_a_bad_sign_never_lowers_a_risk(world, kind):
    scorer, events, customers, _ = world
    before = _scored(scorer, events, customers)[PROBABILITIES]
    for n in (1, 3):
        after = _scored(scorer, _with_each(events, customers, kind, n), customers)[PROBABILITIES]
        rise = after.to_numpy() - before.to_numpy()
        assert rise.min() >= -1e-12, f"{kind} x{n} lowered a risk by {-rise.min():.4f}"
        assert rise.mean() > 0  # and it does say something
        before = after


def test_row_order_never_changes_a_score(world):
    scorer, events, customers, log = world
    expected = _scored(scorer, events, customers, log)
    shuffled = _scored(
        scorer,
        events.sample(frac=1.0, random_state=1),
        customers.sample(frac=1.0, random_state=2),
        log.sample(frac=1.0, random_state=3),
    )
    pd.testing.assert_frame_equal(shuffled.loc[expected.index], expected)


def test_renamed_customer_ids_get_the_same_scores_reasons_and_actions(world):
    scorer, events, customers, log = world
    expected = _scored(scorer, events, customers, log)
    old = customers["customer_id"].astype(str)
    names = dict(zip(old, [f"zz-{i:05d}" for i in range(len(old))][::-1], strict=True))

    def renamed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(customer_id=frame["customer_id"].astype(str).map(names))

    known = events[events["customer_id"].astype(str).isin(names)]
    got = _scored(
        scorer, renamed(known), renamed(customers), renamed(log[log["customer_id"].isin(names)])
    )
    got.index = got.index.map({new: old for old, new in names.items()})
    ties = expected.duplicated(["churn_probability"], keep=False)  # ids break these ties
    compared = [c for c in expected.columns if c != "churn_rank"]
    pd.testing.assert_frame_equal(got.loc[expected.index, compared], expected[compared])
    assert (got.loc[expected.index[~ties], "churn_rank"] == expected.loc[~ties, "churn_rank"]).all()

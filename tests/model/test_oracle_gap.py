"""`make oracle-gap` on small simulated data: the hidden traits reach the models and help, and
so does the true uplift of other simulated bases."""

from __future__ import annotations

import pytest
from benchmarks.oracle_gap import measure

from cxml.jobs.ingest import run_simulate

pytestmark = pytest.mark.slow  # the module's fixture trains with and without the hidden traits


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict[str, float]:
    data = tmp_path_factory.mktemp("gap") / "data"
    run_simulate(data, customers=3000, seed=11)
    return measure(data)


def test_the_oracle_leads_and_the_true_traits_close_part_of_the_gap(measured):
    assert 0.5 < measured["auc"] < measured["auc_with_traits"] < measured["oracle_auc"]
    # traits joined to the wrong customers would be noise, and would not help the policy
    assert measured["nba_share"] < measured["nba_share_with_traits"] <= 1.0


def test_a_model_fitted_to_the_true_uplift_elsewhere_beats_the_logged_campaigns(measured):
    # exact labels from other bases of the same simulator: the ceiling for these features.
    # True uplift joined to the wrong customers would be noise and fall below the learner.
    assert measured["nba_share"] < measured["nba_share_fitted_to_truth"] < 1.0

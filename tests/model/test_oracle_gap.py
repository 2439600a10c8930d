"""`make oracle-gap` on small simulated data: the hidden traits reach the models and help."""

from __future__ import annotations

import pytest
from benchmarks.oracle_gap import measure

from cxml.jobs.ingest import run_simulate


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict[str, float]:
    data = tmp_path_factory.mktemp("gap") / "data"
    run_simulate(data, customers=3000, seed=11)
    return measure(data)


def test_the_oracle_leads_and_the_true_traits_close_part_of_the_gap(measured):
    assert 0.5 < measured["auc"] < measured["auc_with_traits"] < measured["oracle_auc"]
    # traits joined to the wrong customers would be noise, and would not help the policy
    assert measured["nba_share"] < measured["nba_share_with_traits"] <= 1.0

"""The off-policy estimators against a known answer on real logs (Open Bandit Dataset sample):
the Thompson-sampling policy's click rate, estimated from the uniform-random log alone, against
its own log's click rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from benchmarks.obd import measure, read_log

from cxml.actions.offpolicy import ips_value


@pytest.fixture
def obd(shared_data):
    folder = shared_data / "open_bandit_dataset"
    if not (folder / "random" / "all.csv.gz").is_file():
        pytest.skip(f"{folder} not found: set CXML_SHARED_DATA to the shared datasets folder")
    return folder


def test_the_thompson_policy_is_valued_from_the_random_log(obd):
    measured = measure(obd, n_boot=400)
    truth = measured["on-policy (BTS log)"][0]
    for name in ("IPS from the random log", "DR from the random log"):
        estimate, low, high = measured[name]
        assert low <= truth <= high, (name, measured)
        assert low < estimate < high


def test_the_logging_policy_valued_on_its_own_log_is_its_click_rate(obd):
    random = read_log(obd, "random")
    items = sorted(random["item_id"].unique(), key=int)
    uniform = np.full((len(random), len(items)), 1 / len(items))
    target = pd.DataFrame(uniform, columns=items)
    value = ips_value(random["click"], random["item_id"], random["propensity_score"], target)
    assert value == pytest.approx(random["click"].mean(), rel=1e-9)

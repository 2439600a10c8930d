"""Population stability index against a stored training profile."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cxml.models.drift import psi, reference_profile, shares, status


def _training(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spend = rng.gamma(2.0, 50.0, n)
    spend[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "spend_90d": spend,
            "n_login_30d": rng.poisson(4, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def test_profile_is_json_serialisable_plain_data() -> None:
    profile = reference_profile(_training(), bins=10)
    again = json.loads(json.dumps(profile))
    assert again == profile
    spend = profile["numeric"]["spend_90d"]
    assert len(spend["shares"]) == len(spend["edges"]) + 1
    assert sum(spend["shares"]) + spend["missing"] == pytest.approx(1.0)
    assert spend["missing"] == pytest.approx(0.05, abs=0.02)
    plan = profile["text"]["plan"]
    assert set(plan["levels"]) == {"basic", "plus", "pro"}
    assert plan["other"] == 0.0


def test_identical_data_is_stable() -> None:
    frame = _training()
    table = psi(reference_profile(frame), frame)
    assert list(table.columns) == ["feature", "psi", "noise", "status"]
    assert table["psi"].to_numpy() == pytest.approx(0.0, abs=1e-9)
    assert set(table["status"]) == {"stable"}


def test_a_fresh_sample_of_the_same_population_is_stable() -> None:
    table = psi(reference_profile(_training(seed=0)), _training(seed=1))
    assert set(table["status"]) == {"stable"}


def test_a_shifted_column_is_drifted_and_listed_first() -> None:
    train = _training()
    later = train.assign(spend_90d=train["spend_90d"] * 2.5 + 40)
    table = psi(reference_profile(train), later)
    assert table.iloc[0]["feature"] == "spend_90d"
    assert table.iloc[0]["status"] == "drifted"
    assert table.iloc[0]["psi"] >= 0.25
    assert set(table.iloc[1:]["status"]) == {"stable"}


def test_an_unseen_category_counts_in_other() -> None:
    train = _training()
    profile = reference_profile(train)
    later = train.copy()
    later.loc[later.index[: len(later) // 2], "plan"] = "enterprise"  # never seen in training
    table = psi(profile, later).set_index("feature")
    assert table.loc["plan", "status"] == "drifted"
    # half the rows moved into "other" (training share 0 → epsilon): PSI well above the bar
    assert table.loc["plan", "psi"] > 1.0
    small = later.copy()
    small["plan"] = train["plan"]
    small.loc[small.index[:10], "plan"] = "enterprise"  # a handful of new rows: still stable
    assert psi(profile, small).set_index("feature").loc["plan", "status"] == "stable"


def test_missing_column_is_reported_first() -> None:
    train = _training()
    table = psi(reference_profile(train), train.drop(columns=["n_login_30d"]))
    assert table.iloc[0]["feature"] == "n_login_30d"
    assert table.iloc[0]["status"] == "missing"
    assert np.isnan(table.iloc[0]["psi"])
    assert len(table) == 3


def test_more_missing_values_show_as_drift() -> None:
    train = _training()
    later = train.assign(spend_90d=np.where(np.arange(len(train)) % 2 == 0, np.nan, 1.0))
    assert psi(reference_profile(train), later).iloc[0]["status"] == "drifted"


def test_status_thresholds() -> None:
    assert [status(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "stable",
        "stable",
        "watch",
        "watch",
        "drifted",
        "drifted",
    ]


def test_empty_frame_is_an_error_with_a_reason() -> None:
    train = _training()
    with pytest.raises(ValueError, match="at least one row"):
        psi(reference_profile(train), train.iloc[:0])


def test_small_fresh_samples_of_the_same_population_are_not_drift() -> None:
    """150 rows against 150: sampling alone often moves a 20-level text feature's PSI past
    0.25, so a feature counts as moved only past what chance gives at these sizes (`noise`)."""
    rng = np.random.default_rng(5)
    levels = [f"region_{i}" for i in range(20)]
    found = []
    for _ in range(100):
        train = pd.DataFrame({"region": rng.choice(levels, 150)})
        later = pd.DataFrame({"region": rng.choice(levels, 150)})
        found.append(psi(reference_profile(train), later).iloc[0])
    table = pd.DataFrame(found)
    assert (table["psi"] >= 0.25).mean() > 0.3  # the usual bar alone: drift a third of the time
    assert (table["status"] != "stable").mean() <= 0.05  # beyond chance: rarely
    shifted = pd.DataFrame({"region": rng.choice(levels[:5], 150)})  # a real change still shows
    assert psi(reference_profile(train), shifted).iloc[0]["status"] == "drifted"
    assert status(0.3, chance=0.35) == "stable" and status(0.3, chance=0.2) == "drifted"


def test_shares_are_the_bins_psi_sums_over() -> None:
    train = _training()
    later = train.assign(spend_90d=train["spend_90d"] * 2.5 + 40)
    profile = reference_profile(train)
    spend = shares(profile, later, "spend_90d")
    assert len(spend.bins) == len(spend.expected) == len(spend.actual) == 11  # 10 bins, missing
    assert spend.bins[0].startswith("≤") and spend.bins[-2].startswith(">")
    assert spend.bins[-1] == "missing"
    assert spend.expected.sum() == pytest.approx(1.0) and spend.actual.sum() == pytest.approx(1.0)
    assert spend.actual[-2] > 0.4  # the shifted values pile into the top bin
    plan = shares(profile, train, "plan")
    assert plan.bins == ["basic", "plus", "pro", "other", "missing"]
    assert plan.actual == pytest.approx(plan.expected)
    with pytest.raises(KeyError, match="not in the profile"):
        shares(profile, train, "no_such_feature")


def test_the_built_table_reads_as_its_frame() -> None:
    """`cxml score` hands psi the built features as they are (no frame of a big base made for
    the report): the same table as from the frame, drift, other levels and a column gone
    included."""
    from cxml.features.table import Table

    train = _training()
    later = train.assign(spend_90d=train["spend_90d"] * 2.5 + 40, plan="enterprise")
    later = later.drop(columns=["n_login_30d"])
    table = Table(later.index, {name: later[name].to_numpy() for name in later.columns})
    expected = psi(reference_profile(train), later)
    assert set(expected["status"]) == {"drifted", "missing"}
    pd.testing.assert_frame_equal(psi(reference_profile(train), table), expected)

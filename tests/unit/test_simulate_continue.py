"""`cxml simulate --continue`: the same world goes on under a run's decisions. Everything before
the decisions happens exactly as it did; the decisions are acted out and logged with their
propensities (every row, the untreated too); a continued world can be continued again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxml.cli import app
from cxml.jobs.ingest import continue_simulation, run_simulate

CUSTOMERS = 600


def decided(data: Path, seed: int) -> Path:
    """Decisions at the data dir's evaluation cutoff, as `cxml score` writes them: half of the
    active customers drawn for an education e-mail (propensity 0.5), the rest no action."""
    truth = pd.read_parquet(data / "truth.parquet")
    rng = np.random.default_rng(seed)
    mail = rng.random(len(truth)) < 0.5
    table = pd.DataFrame(
        {
            "customer_id": truth["customer_id"],
            "action_time": truth["cutoff"],
            "action": np.where(mail, "education_email", "none"),
            "propensity": 0.5,
        }
    )
    path = data.parent / f"decisions-{data.name}.parquet"
    table.to_parquet(path)
    return path


def before(frame: pd.DataFrame, column: str, cutoff: pd.Timestamp) -> pd.DataFrame:
    rows = frame[frame[column] < cutoff].copy()
    rows["customer_id"] = rows["customer_id"].astype(str)
    for name in rows.columns:
        if isinstance(rows[name].dtype, pd.CategoricalDtype):
            rows[name] = rows[name].astype(str)
    return rows.reset_index(drop=True)


def tables(data: Path) -> dict[str, pd.DataFrame]:
    return {n: pd.read_parquet(data / f"{n}.parquet") for n in ("customers", "events", "actions")}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("worlds")
    run_simulate(root / "a", CUSTOMERS, seed=4)
    continue_simulation(root / "a", decided(root / "a", 1), 16, root / "b")
    continue_simulation(root / "b", decided(root / "b", 2), 16, root / "c")
    return {name: root / name for name in "abc"}


def test_the_world_before_the_decisions_is_the_same(worlds):
    a, b, c = (tables(worlds[n]) for n in "abc")
    cut_a = pd.read_parquet(worlds["a"] / "truth.parquet")["cutoff"].iloc[0]
    cut_b = pd.read_parquet(worlds["b"] / "truth.parquet")["cutoff"].iloc[0]
    assert cut_b == cut_a + pd.Timedelta(weeks=16)
    pd.testing.assert_frame_equal(a["customers"], b["customers"])
    pd.testing.assert_frame_equal(a["customers"], c["customers"])
    for first, then, cut in ((a, b, cut_a), (b, c, cut_b)):
        pd.testing.assert_frame_equal(
            before(first["events"], "event_time", cut), before(then["events"], "event_time", cut)
        )
        pd.testing.assert_frame_equal(
            before(first["actions"], "action_time", cut),
            before(then["actions"], "action_time", cut),
        )
    # and the world does go on differently after them: the decisions changed it
    after = b["events"][b["events"]["event_time"] >= cut_a]
    assert len(after) > 0


def test_the_decisions_are_acted_out_and_logged_with_their_propensities(worlds):
    b = tables(worlds["b"])
    cut_a = pd.read_parquet(worlds["a"] / "truth.parquet")["cutoff"].iloc[0]
    taken = pd.read_parquet(decided(worlds["a"], 1))
    logged = b["actions"][b["actions"]["action_time"] == cut_a]
    got = logged.set_index(logged["customer_id"].astype(str)).sort_index()
    want = taken.set_index("customer_id").sort_index()
    assert list(got.index) == list(want.index)  # every decided row, the untreated too
    assert (got["action"] == want["action"]).all()
    assert np.allclose(got["propensity"], want["propensity"])
    truth = pd.read_parquet(worlds["c"] / "truth.parquet")
    assert len(truth) > 0 and truth["p_churn_none"].between(0, 1).all()


def test_a_wrong_continuation_is_one_clear_error(worlds, tmp_path):
    path = decided(worlds["a"], 1)
    with pytest.raises(ValueError, match="multiple of 4"):
        continue_simulation(worlds["a"], path, 13, tmp_path / "x")
    with pytest.raises(ValueError, match="evaluation cutoff is"):
        continue_simulation(worlds["b"], path, 16, tmp_path / "y")
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "z"), "--continue",
                                      str(worlds["a"])])  # fmt: skip
    assert result.exit_code == 2 and "go together" in result.output
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"customer_id": ["C0000001"]}).to_parquet(bad)
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "w"), "--continue",
                                      str(worlds["a"]), "--decisions", str(bad)])  # fmt: skip
    assert result.exit_code == 2 and "lacks column(s)" in result.output, result.output
    assert "Traceback" not in result.output

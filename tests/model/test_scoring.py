"""Batch scoring end to end on small simulated data: train and register a bundle with actions,
score every active customer, and check the list, the rules and the report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cxml.actions import recommend
from cxml.config import PipelineConfig, load_config
from cxml.jobs import score as score_job
from cxml.jobs.ingest import run_simulate
from cxml.jobs.score import run_score
from cxml.jobs.train import record, train
from tests.helpers import SMALL_SURVIVAL

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
CUTOFF = "2025-06-30"
BUDGET, CALLBACK_CAPACITY = 400.0, 5


def small_config(data_dir: Path) -> PipelineConfig:
    raw = load_config(PIPELINES / "demo.yaml", data_dir=data_dir).model_dump()
    raw["model"] |= {
        "max_rounds": 120,
        "early_stopping_rounds": 20,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-07-01"
    raw["actions"]["budget"] = BUDGET
    raw["actions"]["drop_retreated"] = False  # 2,000 customers: keep every row, so offers pay
    raw["actions"]["contact_history_days"] = 182  # the uplift model sees contacts (off by default)
    for action in raw["actions"]["catalog"]:
        if action["name"] == "support_callback":
            action["capacity"] = CALLBACK_CAPACITY
    return PipelineConfig.model_validate(raw)


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("scoring")
    data = root / "data"
    run_simulate(data, customers=2000, seed=21)
    config = small_config(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        mp.chdir(root)
        record(train(config), config)
        out = root / "out"
        first, _ = run_score(config, CUTOFF, out)
        again, _ = run_score(config, CUTOFF, out)
        yield config, data, out, first, again


def test_list_has_the_columns_and_no_pii(scored_run):
    _, _, out, first, _ = scored_run
    required = {
        "customer_id", "cutoff", "churn_probability", "churn_risk_band", "churn_rank",
        "satisfaction_drop_probability", "reason_1", "reason_2", "reason_3", "action",
        "action_expected_gain", "action_cost", "action_reason", "runner_up_action",
        "model_name", "model_version", "scored_at",
    }  # fmt: skip
    assert required <= set(first.columns)
    assert not {"name", "email"} & set(first.columns)
    on_disk = pd.read_csv(out / "scored.csv")
    assert len(on_disk) == len(first) and set(required) <= set(on_disk.columns)


def test_the_list_says_when_and_what_a_customer_is_worth(scored_run):
    """The time-to-churn columns: probabilities and days in range, agreeing with the churn
    model and with the simulator's true risk; the value within what the customer pays."""
    config, data, _, first, _ = scored_run
    survival, tenure = first["survival_90d"], first["expected_tenure_days"]
    assert survival.between(0, 1).all() and tenure.between(0, 371).all()
    curve = first[[f"survival_{d}d" for d in (30, 90, 180, 365)]].to_numpy()
    assert (np.diff(curve, axis=1) <= 1e-12).all()  # nobody comes back: monotone in time
    # the two models see the same customers: the riskier, the less likely to stay
    assert np.corrcoef(first["churn_probability"], 1 - survival)[0, 1] > 0.5
    truth = pd.read_parquet(data / "truth.parquet").set_index("customer_id")
    true_risk = truth.loc[first["customer_id"], "p_churn_observed"].to_numpy()
    assert np.corrcoef(true_risk, 1 - survival)[0, 1] > 0.3
    value = config.actions.value
    paid = first["customer_value"] / value.multiplier * value.margin
    assert (first["lifetime_value"] >= 0).all()
    months = min(value.multiplier, 12)  # the survival model sees a year
    assert (first["lifetime_value"] <= paid * months + 1e-9).all()
    assert (first["lifetime_value"] < paid * months).mean() > 0.9  # some churn is expected
    # a customer who already cancelled has no future value: no row, so no value, is given
    events = pd.read_parquet(data / "events.parquet")
    before = events["event_time"] < pd.Timestamp(CUTOFF, tz="UTC")
    cancelled = set(events.loc[before & (events["event_type"] == "cancel"), "customer_id"])
    assert cancelled and not cancelled & set(first["customer_id"])


def test_ranked_by_risk_and_only_active_customers(scored_run):
    _, data, _, first, _ = scored_run
    assert list(first["churn_rank"]) == list(range(1, len(first) + 1))
    assert first["churn_probability"].is_monotonic_decreasing
    truth = pd.read_parquet(data / "truth.parquet")  # the simulator's active customers
    assert set(first["customer_id"]) == set(truth["customer_id"])
    assert (first["reason_1"] != "").sum() == first["explained"].sum() > 0


def test_budget_capacity_cooldown_and_contact_rules_hold(scored_run):
    config, data, _, first, _ = scored_run
    treated = first[first["action"] != "none"]
    assert len(treated) > 0
    assert treated["action_cost"].sum() <= BUDGET + 1e-9
    assert (treated["action"] == "support_callback").sum() <= CALLBACK_CAPACITY
    chosen = treated[treated["action_decision"] == "policy"]  # explored rows: drawn at random
    fell_back = chosen["action_reason"].str.contains("simple policy in use").all()
    # the learned policy gives only actions worth their cost; a simple one it fell back to gives
    # its action to the riskiest, whatever the model thinks it is worth
    assert fell_back or (chosen["action_expected_gain"] > 0).all()
    log = pd.read_parquet(data / "actions.parquet")
    at = pd.Timestamp(CUTOFF, tz="UTC")
    past = log[log["action_time"] < at]
    by_name = {a.name: a for a in config.actions.catalog}
    contact = config.actions.contact
    for row in treated.itertuples():
        mine = past[past["customer_id"] == row.customer_id]
        spec = by_name[row.action]
        recent_same = mine[
            (mine["action"] == row.action)
            & (mine["action_time"] >= at - pd.Timedelta(days=spec.cooldown_days))
        ]
        assert recent_same.empty, row.customer_id
        same_channel = mine[
            (mine["channel"] == spec.channel)
            & (mine["action_time"] >= at - pd.Timedelta(days=contact.period_days))
        ]
        assert len(same_channel) < contact.max_contacts, row.customer_id


def test_a_control_group_and_exploration_with_logged_propensities(scored_run):
    config, _, out, first, _ = scored_run
    decision = first["action_decision"]
    for band, rows in first.groupby("churn_risk_band"):
        held = (rows["action_decision"] == "control").sum()
        assert held == round(config.experiment.holdout * len(rows)), band
    assert (first.loc[decision == "control", "action"] == "none").all()
    assert (decision == "explore").sum() > 0
    assert first["action_propensity"].between(0, 1, inclusive="right").all()
    assert first["decision_id"].is_unique
    control = first[decision == "control"]
    assert control["action_reason"].str.startswith("control group").all()
    logged = pd.read_parquet(out / "decisions.parquet")  # the actions table, to be returned
    assert len(logged) == len(first)
    assert {"customer_id", "action_time", "action", "channel", "cost", "propensity"} <= set(
        logged.columns
    )
    assert logged.set_index("decision_id")["action"].equals(
        first.set_index("decision_id")["action"].loc[logged["decision_id"]]
    )


def test_expected_gains_are_calibrated_and_carry_an_interval(scored_run):
    """The simulated data logs a randomised campaign at the test cutoff: training calibrates
    the learner's effects on it, and every action in the list comes with a 90% interval that
    holds its expected gain; a customer without an action has none to promise."""
    _, _, out, first, _ = scored_run
    assert {"action_gain_low", "action_gain_high"} <= set(first.columns)
    assert 'id="policy-calibration"' in (out / "report.html").read_text()  # says how
    acted = first[first["action"] != "none"]
    assert len(acted) > 0
    gain, low, high = (acted[c] for c in ("action_expected_gain", "action_gain_low",
                                          "action_gain_high"))  # fmt: skip
    assert ((low < gain) & (gain < high)).all()
    assert np.allclose(high - gain, gain - low)
    idle = first[first["action"] == "none"]
    assert (idle["action_gain_low"] == 0).all() and (idle["action_gain_high"] == 0).all()


def test_rerun_gives_the_same_list_except_scored_at(scored_run):
    *_, first, again = scored_run
    pd.testing.assert_frame_equal(first.drop(columns="scored_at"), again.drop(columns="scored_at"))


def test_report_has_its_sections_and_no_external_fetches(scored_run):
    _, _, out, _, _ = scored_run
    html = (out / "report.html").read_text()
    for section in ("kpis", "risk", "top-customers", "actions", "policy-value", "touchpoints"):
        assert f'id="{section}"' in html, section
    for section in ("drift", "earlier", "model-card"):
        assert f'id="{section}"' in html, section
    assert "http://" not in html and "https://" not in html and "<script src" not in html


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_failed_run_leaves_the_previous_outputs(scored_run, monkeypatch):
    config, _, out, _, _ = scored_run
    before = _files(out)
    assert {"scored.parquet", "scored.csv", "report.html"} <= set(before)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{out.parent}/mlflow.db")
    monkeypatch.chdir(out.parent)
    with pytest.raises(ValueError, match="no version with alias"):  # fails before writing
        run_score(config, CUTOFF, out, ref="no-such-alias")
    assert _files(out) == before
    written = []

    def full_disk(frame: pd.DataFrame, path: Path) -> None:  # after the Parquet list is written
        written.append(pd.read_parquet(path.parent / "scored.parquet")["cutoff"].iloc[0])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(score_job, "save_csv", full_disk)
    with pytest.raises(OSError, match="No space left"):  # fails while writing
        run_score(config, "2025-07-07", out, ref="challenger")
    assert written == [pd.Timestamp("2025-07-07", tz="UTC")]  # the new list was on disk
    assert _files(out) == before
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".out.")] == []


def test_without_the_page_a_rerun_removes_the_earlier_page(scored_run, tmp_path, monkeypatch):
    """`cxml score --no-page` into a folder that holds a page: the run's outputs replace the
    earlier ones together, so no stale page is left that disagrees with the new list."""
    config, _, out, _, _ = scored_run
    assert (out / "ui" / "index.html").is_file() and list((out / "ui" / "data").glob("c*.js"))
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{out.parent}/mlflow.db")
    monkeypatch.chdir(out.parent)
    scored, written = run_score(config, CUTOFF, copy, page=False)
    assert [p for p in copy.rglob("*") if "ui" in p.relative_to(copy).parts and p.is_file()] == []
    assert (copy / "scored.csv").is_file() and len(scored) > 0
    assert not any("ui" in p.relative_to(copy).parts for p in written)


def test_drift_on_the_data_the_model_was_trained_on_warns_about_nothing(scored_run):
    """Scored at the test cutoff of the very data it was trained on: the 365-day windows of the
    early training cutoffs reached before the log started, which once read as drift."""
    _, _, out, _, _ = scored_run
    html = (out / "report.html").read_text()
    assert "Features compared with the training data: 0 drifted, 0 watch" in html
    assert 'id="drift-warning"' not in html


KILLER = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from cxml.jobs import score as score_job
from cxml.jobs.score import run_score
from tests.model.test_scoring import small_config

limit, steps = int(sys.argv[1]), [0]


def step():
    steps[0] += 1
    if steps[0] == limit:
        os.kill(os.getpid(), signal.SIGKILL)


def counted(write):
    def run(*args):
        write(*args)
        step()
    return run


for name in ("save_parquet", "save_csv"):
    setattr(score_job, name, counted(getattr(score_job, name)))
rename = Path.rename
Path.rename = lambda self, target: (rename(self, target), step())[0]
run_score(small_config(Path(sys.argv[2])), sys.argv[3], Path(sys.argv[4]), ref="challenger")
"""


@pytest.mark.slow
def test_killed_at_every_step_of_writing_the_previous_or_the_new_set_survives(scored_run):
    """`kill -9` after each output file is written and after each rename: the folder holds the
    previous complete set or the new one, never a mix, and the next start leaves no orphans."""
    from cxml.data.io import recover

    _, data, out, _, _ = scored_run
    root = out.parent
    script = KILLER.format(repo=str(Path(__file__).resolve().parents[2]))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db"}
    env.pop("PYTHONPATH", None)
    outcomes, step = [], 0
    while True:
        step += 1
        before = _files(out)
        cutoff = f"2025-07-{step:02d}"  # each run a new list, told apart by its cutoff
        args = [sys.executable, "-c", script, str(step), str(data), cutoff, str(out)]
        done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
        assert "Traceback" not in done.stderr, done.stderr
        recover(out)  # what the next run does first
        after = _files(out)
        assert not [p.name for p in root.iterdir() if p.name.startswith(".out.")]
        if after == before:
            outcomes.append("previous")
        else:
            parquet = pd.read_parquet(out / "scored.parquet")["cutoff"].iloc[0]
            csv = pd.read_csv(out / "scored.csv")["cutoff"].iloc[0]
            lists = {pd.Timestamp(parquet).date(), pd.Timestamp(csv).date()}
            assert lists == {pd.Timestamp(cutoff).date()}, (step, lists)
            outcomes.append("new")
        if done.returncode == 0:
            break
        assert done.returncode == -signal.SIGKILL, done.stderr
    # killed while the files are written or between the two renames: the previous set
    assert outcomes[0] == "previous" and "previous" in outcomes[-3:-1]
    assert outcomes[-1] == "new" and len(outcomes) >= 5


def test_forget_erases_customers_from_everything_cxml_wrote(scored_run, tmp_path, monkeypatch):
    """The right to erasure: after `cxml forget`, the ids are in no list, report, scoring record
    or database table cxml wrote, and everyone else's rows are still there."""
    from typer.testing import CliRunner

    from cxml.cli import app
    from cxml.jobs import database, scorings, uses

    config, _, out, _, _ = scored_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{out.parent}/mlflow.db")
    monkeypatch.chdir(out.parent)
    db = f"sqlite:///{tmp_path}/cxml.db"
    other = tmp_path / "elsewhere"
    scored, _ = run_score(config, CUTOFF, other, ref="challenger", to_db=db)
    gone = list(scored["customer_id"].astype(str)[:3])  # the riskiest: in the report's table
    assert all(cid in (other / "report.html").read_text() for cid in gone)
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))

    result = CliRunner().invoke(app, ["forget", *gone, "--config", str(config_path), "--db", db])
    assert result.exit_code == 0, result.output
    assert "not touched" in result.output
    for folder in (out, other):
        page = sorted((folder / "ui").rglob("*.*"))
        assert len(page) >= 3  # the team's page: index.html, data/list.js and a chunk
        names = ["scored.parquet", "scored.csv", "decisions.parquet", "report.html", *page]
        for name in names:
            text = (folder / name).read_bytes()
            assert not any(cid.encode() in text for cid in gone), (folder, name)
    left = pd.read_parquet(other / "scored.parquet")
    assert len(left) == len(scored) - 3
    listed = (other / "ui" / "data" / "list.js").read_text()
    on_page = json.loads(listed[listed.index("(") + 1 : listed.rindex(")")])["columns"]
    assert len(on_page["customer_id"]) == len(scored) - 3  # everyone else is still there
    assert (
        f'<span id="count">{len(scored) - 3:,}</span>' in (other / "ui" / "index.html").read_text()
    )
    for use in uses.find_uses(scorings.KIND, config.tracking.model_name):
        kept = uses.use_frame(use.run_id, scorings.ARTIFACT)["customer_id"].astype(str)
        assert not kept.isin(gone).any() and len(kept) > 0
    rows = database.read_run(db)
    assert not rows["customer_id"].astype(str).isin(gone).any()
    assert len(rows) == len(scored) - 3


def test_an_actions_reason_comes_from_what_drives_its_estimated_effect(scored_run):
    """The uplift model's own contributions say why this action for this customer (the learned
    policy, not a fallback: one customer at a time, as the endpoint asks)."""
    import dataclasses

    from cxml.jobs.inputs import load_inputs

    config, *_ = scored_run
    scorer = score_job.load_scorer(config.tracking.model_name, "champion")
    bundle = dataclasses.replace(
        scorer.bundle, info={**scorer.bundle.info, "policy_fallback": None}
    )
    scorer = dataclasses.replace(scorer, bundle=bundle)
    at = pd.Timestamp(CUTOFF, tz="UTC")
    loaded = load_inputs(config, write=False)
    features = score_job.base_features(loaded, bundle, at, config.data.dir)
    scored = scorer.score(features, at, None, loaded.tables.get("actions")).frame()
    treated = scored[scored["action"] != "none"]
    assert len(treated) > 0
    named = treated["action_reason"].str.contains(": helps most here because of ")
    plain = treated["action_reason"].str.endswith(recommend.AVERAGE_EFFECT)
    assert (named | plain).all()  # never the fixed map of churn drivers to actions
    assert named.mean() > 0.5
    texts = treated.loc[named, "action_reason"].str.split("because of ").str[1]
    assert (texts.str.len() > 5).all() and texts.nunique() > 1  # the customer's own drivers


def _champion_inputs(config: PipelineConfig):
    """The champion's scorer, the cutoff, the base's features and the actions log, as
    `cxml score` takes them."""
    from cxml.jobs.inputs import load_inputs

    scorer = score_job.load_scorer(config.tracking.model_name, "champion")
    at = pd.Timestamp(CUTOFF, tz="UTC")
    loaded = load_inputs(config, write=False)
    features = score_job.base_features(loaded, scorer.bundle, at, config.data.dir)
    return scorer, at, features, loaded.tables.get("actions")


def test_the_control_group_does_not_depend_on_the_order_of_the_rows(scored_run):
    config, *_ = scored_run
    scorer, at, features, log = _champion_inputs(config)

    def decided(table) -> pd.Series:
        scored = scorer.score(table, at, None, log, False, experiment=config.experiment).frame()
        return scored["action_decision"] + ":" + scored["action"].astype(str)

    forward = decided(features)
    backward = decided(features.take(np.arange(len(features))[::-1]))
    pd.testing.assert_series_equal(forward.sort_index(), backward.sort_index())
    assert (forward.str.startswith("control")).sum() > 0


def test_the_uplift_model_reads_what_each_customer_already_got(scored_run):
    """The learner was fitted on each campaign's contacts before it, and scoring gives it each
    customer's contacts before the cutoff from the log: the same customers with and without
    their log differ in those columns: the days since the last contact, or the look-back when
    none (on 2,000 customers the learner may make nothing of them, so its estimates are not
    compared)."""
    from cxml.actions.history import CONTACT_PREFIX
    from cxml.jobs.inputs import load_inputs

    config, *_ = scored_run
    scorer = score_job.load_scorer(config.tracking.model_name, "champion")
    learned = scorer.bundle.uplift.encoder_.columns_
    contacts = [c for c in learned if c.startswith(CONTACT_PREFIX)]
    assert contacts == [f"{CONTACT_PREFIX}{a.name}" for a in config.actions.catalog]
    at = pd.Timestamp(CUTOFF, tz="UTC")
    loaded = load_inputs(config, write=False)
    features = score_job.base_features(loaded, scorer.bundle, at, config.data.dir)
    log = loaded.tables["actions"]
    seen = scorer.customer_part(features, at, log)
    unseen = scorer.customer_part(features, at, None)
    days = seen.uplift_features["days_since_action_discount"]
    horizon = config.actions.contact_history_days
    assert (unseen.uplift_features["days_since_action_discount"] == horizon).all()
    before = log[(log["action"] == "discount") & (log["action_time"] < at)]  # not at the cutoff
    last = before.groupby("customer_id")["action_time"].max()
    recent = last[last >= at - pd.Timedelta(days=horizon)]
    recent = recent[recent.index.isin(features.index)]
    assert len(recent) > 10
    expected = (at - recent).dt.total_seconds() / 86400
    rows = features.index.get_indexer(recent.index)
    np.testing.assert_allclose(days[rows], expected.to_numpy())
    assert (np.delete(days, rows) == horizon).all()


def test_a_base_scored_in_blocks_gets_the_list_it_gets_whole(scored_run):
    """A big base is scored a block of customers at a time (its encoded matrix not kept, the
    reasons encoding the rows they explain): the same list, reasons, actions, control group
    and touchpoints as scored whole, in blocks of any size."""
    import dataclasses
    import functools

    from cxml.scoring import Scorer

    config, *_ = scored_run
    scorer, at, features, log = _champion_inputs(config)

    def scored(block: int):
        each = dataclasses.replace(scorer)
        each.customer_part = functools.partial(Scorer.customer_part, each, block=block)
        return each.score(features, at, 0.1, log, False, True, config.experiment)

    whole, blocks = scored(len(features)), scored(97)
    assert len(features) > 10 * 97
    assert (blocks.frame()["action"] != "none").sum() > 0
    pd.testing.assert_frame_equal(blocks.frame(), whole.frame(), check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(blocks.touchpoints, whole.touchpoints, rtol=1e-12)

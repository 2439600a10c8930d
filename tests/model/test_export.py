"""`cxml export` end to end on small simulated data: a registered bundle becomes a model folder
that loads with `mlflow.pyfunc.load_model` in a fresh virtual environment WITHOUT cxml and gives
the same answer as `cxml score` for the same customers at the same cutoff."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from mlflow.models import Model
from typer.testing import CliRunner

from cxml.cli import EXIT_BAD_INPUT, app
from cxml.jobs import tracking
from cxml.jobs.export import answer_input, run_export
from cxml.jobs.ingest import run_simulate
from cxml.jobs.score import load_scorer, run_score
from cxml.jobs.train import record, train
from cxml.scoring.answer import Answer
from tests.model.test_scoring import CUTOFF, small_config

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # the module's fixture trains and registers a model

#: Run by the fresh environment's python: load, predict with the history and without it, and
#: record the third-party modules that cxml's own code imports while doing so.
FRESH = """
import builtins, json, sys
import pandas as pd
import mlflow.pyfunc

real, seen = builtins.__import__, set()

def recording(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and str((globals or {}).get("__name__", "")).startswith("cxml"):
        seen.add(name.split(".")[0])
    return real(name, globals, locals, fromlist, level)

builtins.__import__ = recording
model_dir, rows_file, out = sys.argv[1:4]
model = mlflow.pyfunc.load_model(model_dir)
rows = pd.read_parquet(rows_file)
model.predict(rows).to_parquet(f"{out}/answer.parquet")
builtins.__import__ = real
history = [c for c in rows if c.startswith(("last_", "contacts_"))]
blank = rows.assign(**{c: None if c.startswith("last_") else 0 for c in history})
blank = blank.astype({c: "datetime64[ns]" for c in history if c.startswith("last_")})
model.predict(blank).to_parquet(f"{out}/no_history.parquet")
imported = sorted(seen - set(sys.stdlib_module_names) - {"cxml"})
found = {"cxml": sys.modules["cxml"].__file__, "imported": imported}
json.dump(found, open(f"{out}/run.json", "w"))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = root / "data"
    run_simulate(data, customers=2000, seed=21)
    config = small_config(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        mp.chdir(root)
        record(train(config, show_progress=False), config, show_progress=False)
        scored, _ = run_score(config, CUTOFF, root / "out")
        folder = run_export(config, "champion", root / "models")
        bundle = load_scorer(config.tracking.model_name).bundle
        rows = answer_input(config, CUTOFF, bundle)
        yield config, root, scored, folder, rows


def _fresh_venv(root: Path) -> Path:
    """A venv without pip whose only packages are this venv's site-packages folder, added by a
    path line in a .pth file: the .pth files inside that folder (the editable cxml install)
    are not run, so cxml is not importable there."""
    venv = root / "fresh-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    ours = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "main_site_packages.pth").write_text(ours + "\n")
    return python


@pytest.fixture(scope="module")
def fresh_run(exported, tmp_path_factory):
    *_, folder, rows = exported
    work = tmp_path_factory.mktemp("fresh")  # outside the repo: the cwd of the runs
    assert REPO not in work.parents
    python = _fresh_venv(work)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    check = [python, "-c", "import cxml"]
    done = subprocess.run(check, cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "No module named 'cxml'" in done.stderr, done.stderr
    has_mlflow = [python, "-c", "import mlflow, lightgbm"]
    assert subprocess.run(has_mlflow, cwd=work, env=env).returncode == 0
    rows.to_parquet(work / "rows.parquet")
    (work / "fresh.py").write_text(FRESH)
    run = [python, str(work / "fresh.py"), str(folder), str(work / "rows.parquet"), str(work)]
    done = subprocess.run(run, cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return work, json.loads((work / "run.json").read_text())


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.drop(columns="scored_at").sort_values("customer_id", ignore_index=True)
    return out.assign(cutoff=out["cutoff"].dt.as_unit("ns"))  # the same time, in one unit


def test_fresh_environment_gives_the_answer_of_cxml_score(exported, fresh_run):
    _, _, scored, folder, rows = exported
    work, run = fresh_run
    assert run["cxml"] == str(folder / "code" / "cxml" / "__init__.py")  # the exported copy
    answer = pd.read_parquet(work / "answer.parquet")
    assert list(answer.columns) == list(scored.columns)
    assert list(answer["customer_id"]) == list(rows["customer_id"])  # the input's order
    pd.testing.assert_frame_equal(_comparable(answer), _comparable(scored), check_exact=True)
    assert (answer["action"] != "none").sum() > 0 and answer["explained"].sum() > 0


def test_the_contact_history_columns_decide_who_may_be_contacted(exported, fresh_run):
    """Without the history, the answer offers what the actions log forbids."""
    config, root, scored, *_ = exported
    work, _ = fresh_run
    blank = pd.read_parquet(work / "no_history.parquet").set_index("customer_id")
    log = pd.read_parquet(root / "data" / "actions.parquet")
    at = pd.Timestamp(CUTOFF, tz="UTC")
    contact = config.actions.contact
    past = log[(log["action_time"] < at) & (log["action_time"] >= at - pd.Timedelta(days=28))]
    capped = {(r.customer_id, r.channel) for r in past.itertuples()}  # max_contacts is 1
    assert contact.max_contacts == 1 and contact.period_days == 28
    channel = {a.name: a.channel for a in config.actions.catalog}
    forbidden = [
        who for who, action in blank["action"].items()
        if action != "none" and (who, channel[action]) in capped
    ]  # fmt: skip
    assert forbidden, "no offer the log forbids: the test shows nothing"
    kept = scored.set_index("customer_id").loc[forbidden, "action"]
    assert all((who, channel.get(a)) not in capped for who, a in kept.items())


def _name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist.lower())


def _pins(folder: Path) -> dict[str, str]:
    lines = (folder / "requirements.txt").read_text().split()
    pairs = (line.split("==") for line in lines)
    return {_name(name): version for name, version in pairs}


def test_requirements_pin_what_the_code_imports_at_predict_time(exported, fresh_run):
    *_, folder, _ = exported
    _, run = fresh_run
    pins = _pins(folder)
    owners = metadata.packages_distributions()
    assert {"numpy", "pandas", "lightgbm"} <= set(run["imported"])
    for module in run["imported"]:  # pinned at the version installed here (mlflow: by one of
        dists = owners[module]  # the distributions sharing its module, which brings the rest)
        pinned = [d for d in dists if pins.get(_name(d)) == metadata.version(d)]
        assert pinned, (module, dists, pins)
    assert pins["mlflow"] == metadata.version("mlflow") and "cxml" not in pins


def test_the_folder_has_a_model_card_from_the_bundle_and_no_pii(exported):
    config, _, _, folder, _ = exported
    bundle = load_scorer(config.tracking.model_name).bundle
    card = (folder / "README.md").read_text()
    metrics = bundle.info["metrics"]
    assert f"| churn: ROC AUC | {metrics['churn_roc_auc']:.3f} |" in card
    assert f"| churn: calibration error (ECE) | {metrics['churn_ece']:.3f} |" in card
    assert f"calibration: {bundle.models['churn'].method_}" in card
    assert str(bundle.info["labelled_until"])[:10] in card
    assert f"{bundle.horizon_days} days" in card
    assert all(f"`{name}`" in card for name in bundle.feature_names)
    assert "`contacts_email_28d`" in card and "`last_discount_at`" in card
    example = json.loads((folder / "input_example.json").read_text())
    assert all(row[0].startswith("synthetic-") for row in example["data"])
    pii = set(config.features.pii_columns)
    assert {"name", "email", "phone"} <= pii
    signature = Model.load(str(folder)).signature
    assert not pii & {*signature.inputs.input_names(), *signature.outputs.input_names()}
    assert not pii & set(example["columns"])
    assert not any(f"`{p}`" in card for p in pii)


def test_export_replaces_the_folder_whole_and_a_failed_one_leaves_it(exported, monkeypatch):
    config, root, _, folder, _ = exported
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    (folder / "stale.txt").write_text("from an earlier export")
    assert run_export(config, "1", root / "models") == folder
    assert not (folder / "stale.txt").exists() and (folder / "MLmodel").is_file()
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tracking, "save_self_contained", disk_full)
    with pytest.raises(OSError, match="No space"):
        run_export(config, "champion", root / "models")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_cli_exports_and_says_what_is_wrong(exported, monkeypatch):
    config, root, *_ = exported
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    monkeypatch.chdir(root)
    demo = str(REPO / "pipelines" / "demo.yaml")
    runner = CliRunner()
    done = runner.invoke(app, ["export", "--config", demo, "--out", str(root / "cli")])
    assert done.exit_code == 0, done.output
    assert (root / "cli" / config.tracking.model_name / "1" / "README.md").is_file()
    unknown = runner.invoke(app, ["export", "--config", demo, "--model-ref", "nosuch"])
    assert (
        unknown.exit_code == EXIT_BAD_INPUT and "no version with alias 'nosuch'" in unknown.output
    )
    (root / "a-file").write_text("")
    blocked = runner.invoke(app, ["export", "--config", demo, "--out", str(root / "a-file")])
    assert blocked.exit_code == EXIT_BAD_INPUT, blocked.output
    assert "a-file" in blocked.output and "Traceback" not in blocked.output


def test_bad_input_rows_are_refused_with_what_to_do(exported):
    config, *_, rows = exported
    model = Answer(load_scorer(config.tracking.model_name))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['contacts_email_28d'\]"):
        model.predict(rows.drop(columns="contacts_email_28d"))
    with pytest.raises(ValueError, match="appears more than once at cutoff"):
        model.predict(pd.concat([rows.head(2), rows.head(1)]))
    with pytest.raises(ValueError, match="contacts_app_28d: -1 is not a count"):
        model.predict(rows.head(3).assign(contacts_app_28d=-1))

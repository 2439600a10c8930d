"""Every broken data dir of the corpus through every command that reads a data dir: validate,
features, train, score, import (of the events file) and the service's history. Per command:
no traceback; a run that cannot go on stops with exit 2 and one line naming the file and the
fix; a run that goes on accounts for every row (read = in the file = used + quarantined), puts
the quarantined rows, each with its reason and without PII, where it says, and uses exactly
the rest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxml.cli import app
from cxml.data.schema import ContractError
from cxml.data.validate import pii_key
from cxml.jobs.features import FEATURE_TABLES
from cxml.serving.history import History
from tests.data_faults.corpus import (
    CASES,
    PII,
    VICTIM,
    Base,
    Case,
    Stop,
    build,
    config_text,
    make_base,
    rows_in,
    table_files,
)

CUTOFF = "2025-06-30"
MODEL = "cxml-corpus"
READ = re.compile(r"^read (\S+): ([\d,]+) row\(s\), ([\d,]+) used, ([\d,]+) quarantined$", re.M)
IMPORTS = [c for c in CASES if c.imports is not None]
runner = CliRunner()


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    return make_base(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def store(base: Base, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A model trained once on the valid dir, registered in a fresh MLflow store."""
    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root}/mlflow.db"
    config = root / "corpus.yaml"
    config.write_text(config_text(base.dir, MODEL, {}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(root)
        result = runner.invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return uri, root


@pytest.fixture
def built(request: pytest.FixtureRequest, base: Base, tmp_path: Path) -> tuple[Case, Path, Path]:
    """The case's data dir and a config pointing at it."""
    case: Case = request.param
    folder = build(case, base, tmp_path / "data")
    config = tmp_path / "corpus.yaml"
    config.write_text(config_text(folder, MODEL, case.limits))
    return case, folder, config


def over(cases: list[Case]):
    params = [pytest.param(c, id=c.name) for c in cases]
    return pytest.mark.parametrize("built", params, indirect=True)


def no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "unexpected" not in result.output, result.output  # _errors' line for a bug


def stopped(result, stop: Stop) -> None:
    """Exit 2 and one short error line naming the file and the fix."""
    no_traceback(result)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert stop.file in errors[0] and stop.fix in errors[0], errors[0]
    assert len(errors[0]) < 600


def accounted(
    result,
    case: Case,
    base: Base,
    folder: Path,
    quarantine: Path,
    tables: Collection[str] | None = None,
) -> dict[str, tuple[int, int, int]]:
    """Per table file the command reads (those of `tables`, else all), (read, used,
    quarantined) as the command said them: read is what the file holds, used + quarantined =
    read, quarantined is what the case broke, and exactly those rows are in `quarantine`, each
    with a reason and no PII. No file of a clean table there, nor of a table not read."""
    no_traceback(result)
    said = {
        m[1]: (_number(m[2]), _number(m[3]), _number(m[4])) for m in READ.finditer(result.output)
    }
    files = {
        name: path
        for name, path in table_files(folder).items()
        if tables is None or name.split(".")[0] in tables
    }
    assert set(said) == set(files), result.output
    expected = {name: rows for name, rows in case.quarantined(base).items() if name in files}
    for name, path in files.items():
        read, used, quarantined = said[name]
        assert read == rows_in(path), name
        assert quarantined == expected.get(name, 0), (name, result.output)
        assert used + quarantined == read
        rows_file = quarantine / f"{name.split('.')[0]}.quarantine.csv"
        if quarantined:
            rows = pd.read_csv(rows_file, dtype=str, keep_default_na=False)
            assert len(rows) == quarantined and (rows["reason"] != "").all()
            assert not [c for c in rows.columns if pii_key(c) in {pii_key(p) for p in PII}]
            assert (
                "SECRET" not in rows_file.read_text()
                and "@example.com" not in rows_file.read_text()
            )
        else:
            assert not rows_file.exists(), rows_file
    assert {p.name.split(".")[0] for p in quarantine.glob("*.csv")} <= {
        name.split(".")[0] for name in files
    }
    total = sum(expected.values())
    if total:
        assert (
            f"{total:,} row(s) quarantined (left out), each with its reason, -> {quarantine}"
            in result.output
        )
    return said


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def used(said: dict[str, tuple[int, int, int]], table: str) -> int:
    return next(counts[1] for name, counts in said.items() if name.startswith(f"{table}."))


@over(CASES)
def test_validate(built: tuple[Case, Path, Path], base: Base) -> None:
    case, folder, config = built
    result = runner.invoke(app, ["validate", str(folder), "--config", str(config)])
    if case.stop:
        stopped(result, case.stop)
        return
    accounted(result, case, base, folder, folder / "quarantine")
    assert result.exit_code == (2 if case.quarantined(base) else 0), result.output


@over(CASES)
def test_features(built: tuple[Case, Path, Path], base: Base, tmp_path: Path) -> None:
    case, folder, config = built
    out = tmp_path / "features.parquet"
    args = ["features", str(folder), "--cutoff", CUTOFF, "--out", str(out), "--config", str(config)]
    result = runner.invoke(app, args)
    if case.stop:
        stopped(result, case.stop)
        assert not out.exists()
        return
    quarantine = tmp_path / "features.parquet.quarantine"
    said = accounted(result, case, base, folder, quarantine, FEATURE_TABLES)
    assert result.exit_code == 0, result.output
    features = pd.read_parquet(out)
    assert len(features) == used(said, "customers")
    assert not {"name", "email", "national_id", "profile_national_id"} & set(features.columns)


@pytest.mark.slow
@over(CASES)
def test_train(built: tuple[Case, Path, Path], base: Base, tmp_path: Path) -> None:
    case, folder, config = built
    metrics = tmp_path / "metrics.json"
    args = ["train", "--config", str(config), "--no-track", "--metrics-out", str(metrics)]
    result = runner.invoke(app, args)
    stop = case.stop or case.untrainable
    if stop:
        stopped(result, stop)
        return
    said = accounted(result, case, base, folder, folder / "quarantine")
    assert result.exit_code == 0, result.output
    summary = json.loads(metrics.read_text())["summary"]
    assert summary["customers"] == used(said, "customers")
    assert summary["events"] == used(said, "events")
    assert summary["quarantined_rows"] == sum(case.quarantined(base).values())


@pytest.mark.slow
@over(CASES)
def test_score(
    built: tuple[Case, Path, Path],
    base: Base,
    store: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case, folder, config = built
    uri, root = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(root)
    out = tmp_path / "out"
    args = ["score", "--config", str(config), "--cutoff", CUTOFF, "--out", str(out)]
    result = runner.invoke(app, args)
    stop = case.stop or case.unscorable
    if stop:
        stopped(result, stop)
        assert not out.exists()
        return
    said = accounted(result, case, base, folder, out / "quarantine")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out / "scored.csv", dtype={"customer_id": str})
    assert 0 < len(scored) <= used(said, "customers")
    if case.victim_out:
        assert VICTIM not in set(scored["customer_id"])


@over(CASES)
def test_history(built: tuple[Case, Path, Path], base: Base) -> None:
    """The service's start-up read: the same cleaning, on the default limits."""
    case, folder, _ = built
    if case.stop and not case.limits:
        with pytest.raises(ContractError) as raised:
            History.load(folder, PII)
        assert case.stop.file in str(raised.value) and case.stop.fix in str(raised.value)
        return
    history = History.load(folder, PII)
    files = table_files(folder)
    expected = case.quarantined(base)
    for table, frame in (("customers", history.customers), ("events", history.events.frame)):
        name = next(n for n in files if n.startswith(f"{table}."))
        assert len(frame) == rows_in(files[name]) - expected.get(name, 0), table
    assert not {"name", "email", "national_id"} & set(history.customers.columns)


@over(IMPORTS)
def test_import_transactions(built: tuple[Case, Path, Path], tmp_path: Path) -> None:
    """`cxml import transactions` of the events file: rows in = events imported + quarantined."""
    case, folder, _ = built
    source = next(p for n, p in table_files(folder).items() if n.startswith("events."))
    out = tmp_path / "imported"
    args = ["import", "transactions", str(source), "--out", str(out), "--customer-col",
            "customer_id", "--time-col", "event_time", "--amount-col", "value"]  # fmt: skip
    result = runner.invoke(app, args)
    if isinstance(case.imports, Stop):
        stopped(result, case.imports)
        assert not (out / "events.parquet").exists()
        return
    no_traceback(result)
    assert result.exit_code == 0, result.output
    events = pd.read_parquet(out / "events.parquet")
    quarantine = out / "quarantine" / "import.quarantine.csv"
    left_out = len(pd.read_csv(quarantine)) if quarantine.exists() else 0
    assert len(events) + left_out == rows_in(source)
    assert f"quarantined_rows: {left_out:,}" in result.output


def test_a_real_process_prints_one_line_and_no_traceback(base: Base, tmp_path: Path) -> None:
    """The corrupt gzip that once raised zlib.error, in a real `python -m cxml` process."""
    case = next(c for c in CASES if c.name == "events_gz_corrupt")
    folder = build(case, base, tmp_path / "data")
    proc = subprocess.run(
        [sys.executable, "-m", "cxml", "validate", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "events.csv.gz: not a readable gzip file" in proc.stderr


def test_the_corpus_is_large_and_covers_both_kinds() -> None:
    stops = [c for c in CASES if c.stop]
    assert len(CASES) >= 40 and len(stops) >= 15 and len(CASES) - len(stops) >= 25
    assert len({c.name for c in CASES}) == len(CASES)

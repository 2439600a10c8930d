"""`cxml train` and `cxml score` fail with one `error:` line saying what to do and a non-zero
exit, never a traceback: 2 for what the user can fix, 1 for the tracking store or a bug."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException
from typer.testing import CliRunner

from cxml.cli import EXIT_BAD_INPUT, EXIT_FAILED, app

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
DEMO = str(PIPELINES / "demo.yaml")
runner = CliRunner()


def _raise(exc: BaseException):
    def fail(*args: object, **kwargs: object) -> None:
        raise exc

    return fail


def _train(*extra: str):
    return runner.invoke(app, ["train", "--config", DEMO, "--data", "nowhere", *extra])


def _score(*extra: str, cutoff: str = "2025-06-30"):
    args = ["score", "--config", DEMO, "--cutoff", cutoff, "--out", "out", *extra]
    return runner.invoke(app, args)


def _one_error_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize(
    ("exc", "code", "says"),
    [
        (ValueError("labels.source is 'table' but x has no labels table"), 2, "no labels table"),
        (FileNotFoundError("data dir nowhere not found: run `cxml simulate`"), 2, "cxml simulate"),
        (PermissionError(13, "Permission denied", "/srv/out"), 2, "/srv/out: Permission denied"),
        (MlflowException("database is locked"), 1, "MLFLOW_TRACKING_URI"),
        (KeyError("value"), 1, "unexpected KeyError: 'value'; this is a bug in cxml"),
    ],
)
def test_train_failures_are_one_line(monkeypatch, exc, code, says):
    monkeypatch.setattr("cxml.jobs.train.train", _raise(exc))
    assert says in _one_error_line(_train("--no-track"), code)


def test_registration_failures_are_one_line_too(monkeypatch):
    trained = SimpleNamespace(
        summary={"training_rows": 10, "features": 3, "quarantined_rows": 0}, metrics={}
    )
    monkeypatch.setattr("cxml.jobs.train.train", lambda config: trained)
    missing = ValueError("promote_metric 'churn_roc_auc' is not among the logged metrics []")
    monkeypatch.setattr("cxml.jobs.train.record", _raise(missing))
    assert "promote_metric" in _one_error_line(_train(), EXIT_BAD_INPUT)
    monkeypatch.setattr("cxml.jobs.train.record", _raise(MlflowException("no such table")))
    assert "the MLflow store" in _one_error_line(_train(), EXIT_FAILED)


def test_score_failures_are_one_line(monkeypatch):
    assert "--cutoff 'soon'" in _one_error_line(_score(cutoff="soon"), EXIT_BAD_INPUT)
    assert "--engine" in _one_error_line(_score("--engine", "dask"), EXIT_BAD_INPUT)
    monkeypatch.setattr("cxml.jobs.score.run_score", _raise(KeyError("value")))
    assert "unexpected KeyError" in _one_error_line(_score(), EXIT_FAILED)
    monkeypatch.setattr("cxml.jobs.score.run_score", _raise(IsADirectoryError(21, "Is a dir", "o")))
    assert "o: Is a dir: check the path" in _one_error_line(_score(), EXIT_BAD_INPUT)


def test_cxml_debug_lets_an_unexpected_traceback_through(monkeypatch):
    monkeypatch.setattr("cxml.jobs.train.train", _raise(KeyError("value")))
    monkeypatch.setenv("CXML_DEBUG", "1")
    result = _train("--no-track")
    assert isinstance(result.exception, KeyError)

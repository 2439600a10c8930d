"""The MLflow tracking store can live on the same PostgreSQL server as the scored lists: a model
registered there loads back and scores exactly as the one registered in the embedded store."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from cxml.jobs.score import run_score
from cxml.jobs.train import record
from tests.db.conftest import CUTOFF


def test_a_model_registered_in_postgres_scores_as_the_embedded_one(
    postgres, trained_model, tmp_path, monkeypatch
):
    config = trained_model.config
    url = postgres.create_database("cxml_mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.chdir(tmp_path)  # the run's artifacts go beside it
    run = record(trained_model.trained, config)  # type: ignore[arg-type]
    assert (run.model_name, run.version, run.promoted) == (config.tracking.model_name, "1", True)
    on_postgres, _ = run_score(config, CUTOFF, tmp_path / "out")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:  # it is the server that holds the registry
            query = "SELECT name, version FROM model_versions"
            assert conn.execute(sa.text(query)).all() == [(config.tracking.model_name, 1)]
    finally:
        engine.dispose()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_model.tracking_uri)
    monkeypatch.chdir(trained_model.root)
    embedded, _ = run_score(config, CUTOFF, tmp_path / "out-embedded")
    pd.testing.assert_frame_equal(
        on_postgres.drop(columns="scored_at"), embedded.drop(columns="scored_at"), check_exact=True
    )

"""What a run holds of the events: their clean table and nothing kept beside it.

pandas makes, and caches on a RangeIndex, an array of every row's label when the index (or a
Series sharing it) is indexed with a mask. The events' columns share the table's index, so one
such read anywhere keeps eight bytes per event for the rest of the run (0.46 GiB at a million
customers). These tests read a data dir as `cxml score` does and check that nothing did."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxml.config import LabelConfig
from cxml.data.load import load_data_dir
from cxml.features.build import build_features, log_start
from cxml.jobs.ingest import run_simulate
from cxml.report.kpis import nps_trend, retention_rate
from cxml.scoring import scoring_population


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("held") / "data"
    run_simulate(folder, customers=300, seed=9)
    return folder


def _row_labels_made(frame: pd.DataFrame) -> bool:
    index = frame.index
    return not isinstance(index, pd.RangeIndex) or "_data" in index._cache


def test_reading_and_scoring_reads_keep_no_array_of_row_labels(data_dir):
    loaded = load_data_dir(data_dir)
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    assert not _row_labels_made(events)  # the clean table as read (quarantine included)
    at = pd.Timestamp(events["event_time"].quantile(0.8)).floor("D")
    people = scoring_population(events, customers, at)
    build_features(events, people, at, since=log_start(events))
    nps_trend(events, at)
    retention_rate(events, customers, at, LabelConfig())
    assert not _row_labels_made(events)


def test_a_released_table_keeps_its_quarantine_and_counts(data_dir, tmp_path):
    events = pd.read_parquet(data_dir / "events.parquet")
    events.loc[events.index[:3], "event_time"] = pd.NaT  # three rows to quarantine
    (folder := tmp_path / "data").mkdir()
    for name in ("customers.parquet", "actions.parquet"):
        (folder / name).write_bytes((data_dir / name).read_bytes())
    events.to_parquet(folder / "events.parquet")
    loaded = load_data_dir(folder)
    assert len(loaded.tables["events"]) == len(events) - 3
    loaded.release("events")
    assert loaded.tables["events"].empty and loaded.results["events"].clean.empty
    assert list(loaded.tables["events"].columns) == list(events.columns)
    assert len(loaded.results["events"].quarantine) == 3
    assert loaded.results["events"].rows_read == len(events)

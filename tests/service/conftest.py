"""One real server for the whole session: a small simulation, a model trained on it and
registered in a temporary MLflow store, served by `python -m bentoml serve` on a free loopback
port with an API key. The helpers live in tests/service/server.py (the load benchmark uses
them too)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pandas as pd
import pytest

from cxml.data.load import LoadedData, load_data_dir
from cxml.jobs.score import load_scorer
from cxml.scoring import Scorer
from tests.service.server import Prepared, Server, prepare, tracking_env

API_KEY = "test-key-5f2c"
# Short request deadlines, so the tests of them wait little; still far above what a request
# sent at once by a test client needs.
HEADER_TIMEOUT, BODY_TIMEOUT = 3, 5


@dataclass
class Served:
    server: Server
    prepared: Prepared
    scorer: Scorer  # the same registered version, loaded in this process
    tables: dict[str, pd.DataFrame]  # the data dir as the server loads it

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, key: str | None = API_KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    return prepare(tmp_path_factory.mktemp("service"))


@pytest.fixture(scope="session")
def served(prepared: Prepared) -> Iterator[Served]:
    with tracking_env(prepared.workdir, prepared.tracking_uri):
        scorer = load_scorer(prepared.model_name, "champion")
    loaded: LoadedData = load_data_dir(prepared.data_dir)
    deadlines = {"CXML_HEADER_TIMEOUT": str(HEADER_TIMEOUT), "CXML_BODY_TIMEOUT": str(BODY_TIMEOUT)}
    with Server(prepared, api_key=API_KEY, **deadlines) as server:
        yield Served(server, prepared, scorer, loaded.tables)


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    with served.client() as client:
        yield client

"""The HTTP service, over HTTP against the real server: answers, parity with in-process scoring,
a corpus of bad requests (each a 4xx with a message, never a 5xx), the API key, a short load run,
and the bento build."""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from cxml.features.build import build_features
from cxml.scoring import scoring_population
from cxml.serving.checks import Profile
from cxml.serving.history import History
from cxml.serving.schemas import PredictRequest
from cxml.serving.sent import SentEvents
from cxml.serving.tables import tables
from tests.service.conftest import API_KEY, Served
from tests.service.load import call_sizes, check_load, load_run, pick_customer, request_body
from tests.service.server import CUTOFF

REPO = Path(__file__).resolve().parents[2]
N_PARITY = 20


def _body(served: Served, customer_id: str, as_of: str | None = CUTOFF) -> dict[str, Any]:
    customers, events = served.tables["customers"], served.tables["events"]
    row = customers[customers["customer_id"].astype(str) == customer_id].iloc[0]
    own = events[events["customer_id"].astype(str) == customer_id]
    names = Profile.of(served.scorer.bundle, ()).names
    return request_body(row, own, names, as_of)


def _staying(served: Served) -> pd.DataFrame:
    """The customers the model speaks for at the cutoff (the others are answered 409)."""
    tables, labels = served.tables, served.scorer.bundle.labels
    return scoring_population(tables["events"], tables["customers"], pd.Timestamp(CUTOFF), labels)


@pytest.fixture(scope="module")
def parity_ids(served: Served) -> list[str]:
    """Every n-th customer still with us at the cutoff, and the one with the most events."""
    ids = sorted(_staying(served)["customer_id"].astype(str))
    counts = served.tables["events"]["customer_id"].astype(str).value_counts()
    busiest = counts[counts.index.isin(ids)].index[0]
    return sorted({*ids[:: max(1, len(ids) // (N_PARITY - 1))][: N_PARITY - 1], busiest})


@pytest.fixture(scope="module")
def expected(served: Served) -> pd.DataFrame:
    """Scorer.score in this process on the whole data dir at the cutoff."""
    return _in_process(served, log=None)


def _in_process(served: Served, log: pd.DataFrame | None) -> pd.DataFrame:
    """Each customer of the data dir scored in this process, by id (their best action each)."""
    tables, scorer = served.tables, served.scorer
    features = scorer.bundle.features(tables["events"], _staying(served), CUTOFF)
    scored = scorer.score(features, CUTOFF, None, log, per_customer=True).frame()
    return scored.set_index(scored.index.astype(str))


@pytest.fixture(scope="module")
def expected_actions(served: Served) -> pd.DataFrame:
    """Scorer.score with the actions log, each customer's best eligible action (what
    /predict_by_id answers from the data dir)."""
    return _in_process(served, served.tables.get("actions"))


@pytest.fixture(scope="module")
def good(served: Served) -> dict[str, Any]:
    return _body(served, pick_customer(served.tables["events"], CUTOFF, 30))


# ------------------------------------------------------------------------------ happy paths
def test_predict_answers_with_scores_reasons_and_the_model_version(api, good, served):
    response = api.post("/predict", json=good)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["customer_id"] == good["customer"]["customer_id"]
    assert answer["as_of"].startswith("2025-06-30T00:00:00")
    assert 0 <= answer["churn_probability"] <= 1
    assert 0 <= answer["satisfaction_drop_probability"] <= 1
    assert answer["churn_risk_band"] in {"low", "medium", "high"}
    assert answer["model_name"] == served.prepared.model_name
    assert answer["model_version"] == served.prepared.version
    assert response.headers["x-model-version"] == served.prepared.version
    assert all(isinstance(reason, str) and reason for reason in answer.get("reasons") or [])
    assert "churn_rank" not in answer and "cutoff" not in answer


def test_as_of_defaults_to_now(api, good):
    body = {key: value for key, value in good.items() if key != "as_of"}
    answer = api.post("/predict", json=body).json()
    as_of = pd.Timestamp(answer["as_of"])
    assert abs(pd.Timestamp.now(tz="UTC") - as_of) < pd.Timedelta(minutes=5)


def test_events_at_or_after_as_of_are_ignored(api, good):
    before = api.post("/predict", json=good).json()
    later = copy.deepcopy(good)
    later["events"] += [
        {"event_time": "2025-06-30T00:00:00Z", "event_type": "complaint", "channel": "chat"},
        {"event_time": "2025-08-01T10:00:00+02:00", "event_type": "cancel"},
    ]
    after = api.post("/predict", json=later).json()
    assert after["churn_probability"] == before["churn_probability"]
    assert after["satisfaction_drop_probability"] == before["satisfaction_drop_probability"]


def test_a_new_customer_with_no_history_and_no_attributes_is_scored(api):
    body = {"customer": {"customer_id": "new-1"}, "events": [], "as_of": CUTOFF}
    response = api.post("/predict", json=body)
    assert response.status_code == 200, response.text
    assert 0 <= response.json()["churn_probability"] <= 1


def test_predict_batch_keeps_the_order_and_scores_each_like_predict(api, served, parity_ids):
    bodies = [_body(served, cid, None) for cid in parity_ids[:5]]
    response = api.post("/predict_batch", json={"customers": bodies, "as_of": CUTOFF})
    assert response.status_code == 200, response.text
    batch = response.json()
    assert [p["customer_id"] for p in batch["predictions"]] == parity_ids[:5]
    assert batch["model_version"] == served.prepared.version
    single = api.post("/predict", json=_body(served, parity_ids[0])).json()
    assert batch["predictions"][0]["churn_probability"] == pytest.approx(
        single["churn_probability"], abs=1e-12
    )


def test_predict_by_id_answers_from_the_loaded_history(api, parity_ids, served):
    response = api.post("/predict_by_id", json={"customer_id": parity_ids[0], "as_of": CUTOFF})
    assert response.status_code == 200, response.text
    assert response.json()["customer_id"] == parity_ids[0]
    assert response.json()["model_version"] == served.prepared.version


# ---------------------------------------------------------------------------------- parity
def test_http_answers_equal_in_process_scoring(api, served, parity_ids, expected):
    """/predict_by_id, /predict (the customer's own profile and events) and /predict_batch give
    exactly the probabilities of Scorer.score on the whole data dir."""
    targets = ["churn_probability", "satisfaction_drop_probability"]
    batch = api.post(
        "/predict_batch",
        json={"customers": [_body(served, c, None) for c in parity_ids], "as_of": CUTOFF},
    )
    assert batch.status_code == 200, batch.text
    by_batch = {p["customer_id"]: p for p in batch.json()["predictions"]}
    for cid in parity_ids:
        by_id = api.post("/predict_by_id", json={"customer_id": cid, "as_of": CUTOFF}).json()
        sent = api.post("/predict", json=_body(served, cid)).json()
        for target in targets:
            want = float(expected.loc[cid, target])
            for how, got in (("by_id", by_id), ("predict", sent), ("batch", by_batch[cid])):
                assert got[target] == pytest.approx(want, abs=1e-9), (cid, target, how)
        assert by_id["churn_risk_band"] == expected.loc[cid, "churn_risk_band"]


def test_http_recommends_the_in_process_action(api, expected_actions):
    """/predict_by_id recommends what Scorer.score recommends with the same actions log, for
    customers who get an offer and customers who do not."""
    offered = expected_actions[expected_actions["action"] != "none"]
    assert len(offered) > 0  # the model makes some offers pay: the check says something
    chosen = [*offered.index[:5], *expected_actions.index[expected_actions["action"] == "none"][:3]]
    for cid in chosen:
        got = api.post("/predict_by_id", json={"customer_id": cid, "as_of": CUTOFF}).json()
        want = expected_actions.loc[cid]
        assert got["action"]["name"] == want["action"], cid
        assert got["action"]["runner_up"] == want["runner_up_action"], cid
        assert got["action"]["expected_gain"] == pytest.approx(want["action_expected_gain"])


def test_by_id_a_customer_who_left_is_told_so_not_scored(api, served):
    """A customer who cancelled before as_of gets a 409 saying when, not a risk and an offer;
    asked as of a day before they cancelled, they are scored."""
    events = served.tables["events"]
    cancels = events[(events["event_type"] == "cancel") & (events["event_time"] < CUTOFF)]
    first = cancels.sort_values("event_time").iloc[len(cancels) // 2]
    cid, day = str(first["customer_id"]), pd.Timestamp(first["event_time"])
    gone = api.post("/predict_by_id", json={"customer_id": cid, "as_of": CUTOFF})
    assert gone.status_code == 409, gone.text
    assert f"cancelled on {day.date()}" in gone.json()["error"]
    assert "churn_probability" not in gone.json()
    before = (day - pd.Timedelta(days=1)).isoformat()
    still = api.post("/predict_by_id", json={"customer_id": cid, "as_of": before})
    assert still.status_code == 200, still.text
    assert 0 <= still.json()["churn_probability"] <= 1


def test_by_id_a_customer_not_yet_joined_is_told_so(api, served):
    customers = served.tables["customers"]
    late = customers.sort_values("signup_time").iloc[-1]
    joined = pd.Timestamp(late["signup_time"])
    as_of = (joined - pd.Timedelta(days=1)).isoformat()
    answer = api.post(
        "/predict_by_id", json={"customer_id": str(late["customer_id"]), "as_of": as_of}
    )
    assert answer.status_code == 409, answer.text
    assert "not a customer yet" in answer.json()["error"]


# ---------------------------------------------------------------------------- bad requests
def _set(path: list[str | int], value: Any) -> Any:
    def change(body: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(body)
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return body

    return change


_DELETE = object()
EVENT = {"event_time": "2025-01-01T00:00:00Z", "event_type": "login", "channel": "app"}
# name, route, change to a good body (or raw bytes), status, words the message must contain
BAD: list[tuple[str, str, Any, int, str]] = [
    ("false for a number", "/predict", _set(["events", 0, "value"], False), 400, "number"),
    ("text for a number", "/predict", _set(["events", 0, "value"], "3"), 400, "number"),
    ("NaN for a number", "/predict", b'{"customer": {"customer_id": "a"}, "events": '
     b'[{"event_time": "2025-01-01T00:00:00Z", "event_type": "login", "value": NaN}]}', 400, ""),
    ("number for an id", "/predict", _set(["customer", "customer_id"], 7), 400, "string"),
    ("empty id", "/predict", _set(["customer", "customer_id"], ""), 400, "at least 1"),
    ("missing id", "/predict", _set(["customer", "customer_id"], _DELETE), 400, "required"),
    ("missing events", "/predict", _set(["events"], _DELETE), 400, "required"),
    ("unknown field", "/predict", _set(["extra"], 1), 400, "not permitted"),
    ("unknown event field", "/predict", _set(["events", 0, "colour"], "red"), 400, "permitted"),
    ("nested attribute", "/predict", _set(["customer", "attributes", "plan"], {"a": 1}), 400, ""),
    ("empty event type", "/predict", _set(["events", 0, "event_type"], ""), 400, "at least 1"),
    ("empty channel", "/predict", _set(["events", 0, "channel"], ""), 400, "at least 1"),
    ("number for a time", "/predict", _set(["events", 0, "event_time"], 1700000000), 400,
     "datetime"),
    ("date without time", "/predict", _set(["as_of"], "2025-06-30"), 400, "datetime"),
    ("naive event time", "/predict", _set(["events", 0, "event_time"], "2025-01-01T10:00:00"),
     422, "time zone"),
    ("naive as_of", "/predict", _set(["as_of"], "2025-06-30T00:00:00"), 422, "time zone"),
    ("year 3000", "/predict", _set(["events", 0, "event_time"], "3000-01-01T00:00:00Z"), 422,
     "outside"),
    ("1899 in UTC", "/predict", _set(["events", 0, "event_time"], "1900-01-01T00:30:00+01:00"),
     422, "outside"),
    ("NPS of 11", "/predict", _set(["events", 0], {**EVENT, "event_type": "survey_nps",
     "value": 11.0}), 422, "0..10"),
    ("unknown category", "/predict", _set(["customer", "attributes", "plan"], "gold"), 422,
     "allowed: basic"),
    ("true for a number attribute", "/predict", _set(["customer", "attributes", "age"], True),
     422, "number"),
    ("infinite attribute", "/predict", b'{"customer": {"customer_id": "a", "attributes": '
     b'{"age": 1e400}}, "events": []}', 422, "finite"),
    ("integer beyond float", "/predict", b'{"customer": {"customer_id": "a", "attributes": '
     b'{"age": 1' + b"0" * 400 + b'}}, "events": []}', 422, "finite"),
    ("unknown attribute", "/predict", _set(["customer", "attributes", "colour"], "red"), 422,
     "expects"),
    ("PII attribute", "/predict", _set(["customer", "attributes", "email"], "a@b.example"), 422,
     "PII"),
    ("too many events", "/predict", _set(["events"], [EVENT] * 5001), 422, "at most 5000"),
    ("huge body", "/predict", _set(["customer", "attributes", "plan"], "x" * (2 << 20)), 413,
     "CXML_MAX_BODY_BYTES"),
    ("malformed JSON", "/predict", b'{"customer": {"customer_id": ', 400, "JSON"),
    ("a JSON list", "/predict", b"[]", 400, ""),
    ("empty body", "/predict", b"", 400, "required"),
    ("too many in a batch", "/predict_batch", lambda b: {"customers": [
        {"customer": {"customer_id": f"c{i}"}, "events": []} for i in range(101)]}, 422,
     "at most 100"),
    ("repeated id in a batch", "/predict_batch", lambda b: {"customers": [
        {"customer": {"customer_id": "c"}, "events": []}] * 2}, 422, "repeated"),
    ("empty batch", "/predict_batch", lambda b: {"customers": []}, 400, "at least 1"),
    ("unknown customer", "/predict_by_id", lambda b: {"customer_id": "nobody"}, 404, "unknown"),
    ("missing id by id", "/predict_by_id", lambda b: {"as_of": CUTOFF}, 400, "required"),
]  # fmt: skip


def test_an_unknown_event_type_or_channel_counts_as_other_and_the_answer_says_so(api, good):
    """As batch scoring counts them: two different unknown names give the same answer."""
    answers = []
    for kind, channel in (("teleport", "pigeon"), ("warp", "smoke_signal")):
        body = _set(["events", 0], {**EVENT, "event_type": kind, "channel": channel})(good)
        response = api.post("/predict", json=body)
        assert response.status_code == 200, response.text[:500]
        answer = response.json()
        assert any(kind in note and "counted as other" in note for note in answer["notes"])
        assert any(channel in note for note in answer["notes"])
        answers.append(answer)
    assert answers[0]["churn_probability"] == answers[1]["churn_probability"]
    known = api.post("/predict", json=good).json()
    assert "notes" not in known or not known["notes"]


@pytest.mark.parametrize(
    ("name", "route", "change", "status", "words"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_requests_get_a_4xx_with_a_field_level_message(
    api, good, name, route, change, status, words
):
    content = change if isinstance(change, bytes) else json.dumps(change(good)).encode()
    response = api.post(route, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status, (name, response.text[:500])
    answer = response.json()
    assert answer["error"] and answer["detail"], answer
    assert words in response.text, (words, response.text[:500])
    if status == 422:
        assert all(item["loc"] and item["msg"] for item in answer["detail"]), answer
        assert answer["model_version"]


def test_wrong_method_or_path_is_a_4xx(api):
    assert api.get("/predict").status_code == 405
    assert api.post("/no_such_route", json={}).status_code == 404


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_gets_415(served, good, content_type):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = httpx.post(
        f"{served.url}/predict", content=json.dumps(good).encode(), headers=headers
    )
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["error"]


def test_a_chunked_body_over_the_limit_is_cut_off_while_read(served):
    def chunks():
        for _ in range(40):
            yield b" " * 65536

    response = httpx.post(
        f"{served.url}/predict",
        content=chunks(),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


# -------------------------------------------------------------------------------- API key
@pytest.mark.parametrize("key", [None, "wrong", API_KEY + "x", ""])
def test_api_routes_and_docs_refuse_a_missing_or_wrong_key(served, good, key):
    with served.client(key) as client:
        for response in (client.post("/predict", json=good), client.get("/docs.json")):
            assert response.status_code == 401, response.text
            assert "Authorization: Bearer" in response.json()["error"]
            assert response.headers["www-authenticate"] == "Bearer"


def test_the_right_key_opens_api_and_docs(api, good):
    assert api.post("/predict", json=good).status_code == 200
    docs = api.get("/docs.json")
    assert docs.status_code == 200
    assert {"/predict", "/predict_batch", "/predict_by_id"} <= set(docs.json()["paths"])


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/readyz", "/metrics"])
def test_probes_and_metrics_need_no_key(served, path):
    assert httpx.get(f"{served.url}{path}").status_code == 200


# ----------------------------------------------------------------------------- logs, load
def test_logs_hold_no_bodies_or_customer_data(api, served, good):
    secret = "zz-not-for-logs-zz"
    api.post("/predict", json=_set(["customer", "customer_id"], secret)(good))
    api.post("/predict", json=_set(["customer", "attributes", "plan"], secret)(good))
    api.post("/predict", json=_set(["customer", "customer_id"], 12345678901)(good))
    api.post("/predict_by_id", json={"customer_id": secret})
    log = served.server.log.read_text(encoding="utf-8", errors="replace")
    assert "POST /predict 422" in log and "POST /predict_by_id 404" in log
    for leaked in (secret, "12345678901", good["customer"]["customer_id"], "(scheme="):
        assert leaked not in log


def test_a_short_load_run_has_no_errors_and_flat_memory(served, good):
    body = json.dumps(good).encode()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    result = load_run(served.url, headers, body, 10.0, 4, served.server.rss)
    check_load(result)  # no errors, RSS growth in the second half under RSS_GROWTH_MIB
    assert result.requests > 50, result.describe()
    assert result.rss_mid > 0 and result.rss_end > 0, "server memory was not sampled"


def _excluded_from_tracing(env: dict[str, str]) -> list[str]:
    code = "import json; from cxml.service import CxmlService as S; print(json.dumps(S.config))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["tracing"]["excluded_urls"]


def test_scoring_routes_build_no_tracing_spans_unless_asked():
    env = {k: v for k, v in os.environ.items() if k != "CXML_TRACING"}
    assert _excluded_from_tracing(env) == ["/predict", "/predict_batch", "/predict_by_id"]
    assert _excluded_from_tracing({**env, "CXML_TRACING": "1"}) == []


# ------------------------------------------------------------------------------- the bento
def test_bentofile_lists_the_packages_of_pyproject():
    bentofile = yaml.safe_load((REPO / "bentofile.yaml").read_text(encoding="utf-8"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert bentofile["python"]["packages"] == project["dependencies"]
    assert bentofile["service"] == "cxml.service:CxmlService"


def test_bentoml_build_makes_a_bento_offline(tmp_path):
    if shutil.which("uv") is None and importlib.util.find_spec("uv") is None:
        pytest.fail("uv missing: `bentoml build` would pip-install it unpinned; run make install")
    env = {**os.environ, "BENTOML_HOME": str(tmp_path), "BENTOML_DO_NOT_TRACK": "True"}
    command = [sys.executable, "-m", "bentoml", "build", "-f", "bentofile.yaml", "."]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (bento,) = [p for p in (tmp_path / "bentos" / "cxml").iterdir() if p.is_dir()]
    src = bento / "src"
    assert (src / "cxml" / "service.py").is_file()
    assert (src / "pipelines" / "demo.yaml").is_file()
    assert not list(src.rglob("__pycache__"))
    requirements = (bento / "env" / "python" / "requirements.txt").read_text(encoding="utf-8")
    assert "lightgbm" in requirements and "://" not in requirements
    assert "/predict_by_id" in (bento / "apis" / "openapi.yaml").read_text(encoding="utf-8")


def test_history_drops_pii_and_finds_each_customers_rows(served):
    history = History(served.tables, frozenset({"name", "email"}))
    assert not {"name", "email"} & set(history.customers.columns)
    assert "nobody" not in history.rows
    events = served.tables["events"]
    cid = str(events["customer_id"].iloc[-1])
    found = history.find([cid])
    assert list(found.customers["customer_id"]) == [cid]
    assert len(found.events) == int((events["customer_id"].astype(str) == cid).sum())
    assert set(found.events["customer_id"]) == {cid}
    other = str(events["customer_id"].iloc[0])
    both = history.find([other, cid])  # one frame per table, in the order asked
    assert list(both.customers["customer_id"]) == [other, cid]
    assert len(both.events) == int(events["customer_id"].astype(str).isin([cid, other]).sum())


def test_profile_reports_the_models_attributes(served):
    profile = Profile.of(served.scorer.bundle, ("email",))
    assert {"plan", "region"} <= set(profile.levels)
    assert "age" in profile.numeric
    assert np.all([name not in profile.names for name in ("name", "email", "customer_id")])


def test_request_tables_give_features_in_the_models_order(served):
    """Then the features need no reordering: the order comes from the model, not from how a set
    of attribute names happens to iterate."""
    bundle = served.scorer.bundle
    profile = Profile.of(bundle, ())
    row = served.tables["customers"].iloc[0]
    body = request_body(row, served.tables["events"].head(3), profile.names)
    request = PredictRequest.model_validate_json(json.dumps(body))
    events, customers = tables([(request.customer, SentEvents.of(request.events))], profile)
    built = build_features(events, customers, CUTOFF, bundle.feature_config)
    assert [name for name in built.names() if name in bundle.feature_names] == bundle.feature_names


# ------------------------------------------------------------------------------ coalescing
ESSENTIALS = ("churn_probability", "satisfaction_drop_probability", "reasons", "action")


def _shared_calls_answer_as_alone(
    served: Served, path: str, bodies: list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """Each body sent alone, then all of them at once for 5 rounds: every answer must equal
    its answer alone, and /metrics must show calls shared by more than one request."""

    def essentials(answer: dict[str, Any]) -> tuple[Any, ...]:
        return (answer["customer_id"], *(answer.get(key) for key in ESSENTIALS))

    with served.client() as http:
        alone = [essentials(http.post(path, json=body).json()) for body in bodies]
    total_before, alone_before = call_sizes(served.url, path)

    async def together() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(base_url=served.url, headers=headers, timeout=30) as http:
            rounds = [[http.post(path, json=body) for body in bodies] for _ in range(5)]
            return [r for calls in rounds for r in await asyncio.gather(*calls)]

    responses = asyncio.run(together())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses][:2]
    for i, response in enumerate(responses):
        got, want = essentials(response.json()), alone[i % len(bodies)]
        if "as_of" in bodies[i % len(bodies)]:
            assert got == want
        else:  # scored at "now", a moment later than alone: tenure has grown by seconds
            assert got[0] == want[0] and got[1] == pytest.approx(want[1], rel=1e-6)
    total, single = call_sizes(served.url, path)
    assert total - total_before < len(responses), "no two requests shared a model call"
    assert total - single > total_before - alone_before
    return alone


def test_concurrent_requests_share_calls_and_each_gets_its_own_answer(served, parity_ids):
    """Eight clients at once, two of them sending the same customer id with different
    histories, one with no as_of (now: a call of its own)."""
    bodies = [_body(served, cid) for cid in parity_ids[:6]]
    cut = copy.deepcopy(bodies[0])
    cut["events"] = cut["events"][: len(cut["events"]) // 2]
    bodies.append(cut)  # same customer_id as bodies[0], another history
    bodies.append({k: v for k, v in bodies[1].items() if k != "as_of"})
    alone = _shared_calls_answer_as_alone(served, "/predict", bodies)
    assert alone[0] != alone[6], "the cut history should change the answer"


def test_concurrent_by_id_requests_share_calls_and_match_each_alone(served, parity_ids):
    """/predict_by_id for several customers at once, two of them asked for twice a round."""
    ids = [*parity_ids[:6], parity_ids[0], parity_ids[1]]
    bodies = [{"customer_id": cid, "as_of": CUTOFF} for cid in ids]
    _shared_calls_answer_as_alone(served, "/predict_by_id", bodies)

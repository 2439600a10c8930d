"""A business's own data and words, from import to the endpoint: two CSV exports (a CRM and a
help desk) with their own event names, two new channels and a new event type without a role;
imported with a mapping, trained and scored with a taxonomy and topics of their comments, then
asked about over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from cxml.cli import app
from cxml.config import PipelineConfig, load_config
from cxml.jobs.ingest import run_simulate
from cxml.jobs.score import run_score
from cxml.jobs.train import record, train
from tests.helpers import SMALL_SURVIVAL
from tests.service.server import REPO, Prepared, Server, tracking_env

runner = CliRunner()
CUTOFF = "2025-06-30"
#: the business's raw names for two built-in types
RENAMED = {"purchase": "order", "support_ticket": "ticket_opened"}
TAXONOMY = {
    "event_types": {
        "order": {"role": "purchase", "display": "order"},
        "ticket_opened": {"role": "support_ticket", "display": "help-desk ticket"},
        "delivery_late": {"display": "late delivery"},  # its own type: no built-in meaning
    },
    "channels": {"whatsapp": {"display": "WhatsApp"}, "chatbot": {"display": "chat bot"}},
}
#: topics of the survey comments, by seed phrases
TOPICS = {"support": ["support", "called back", "fixed"], "price": ["price", "expensive", "fees"]}
MAPPING = """
sources:
  - file: crm.csv
    name: crm
    columns: {customer_id: client, event_time: at, event_type: activity, channel: medium,
              value: amount, text: note}
  - file: helpdesk.csv
    name: helpdesk
    delimiter: ";"
    columns: {customer_id: client, event_time: opened, event_type: kind, channel: via,
              value: hours, text: body}
customers:
  file: crm_customers.csv
  customer_id: client
  signup_time: since
"""


def exports(folder: Path, sim: Path) -> None:
    """The simulator's world as a business would export it: its names, its channels, and late
    deliveries that come before many cancellations."""
    events = pd.read_parquet(sim / "events.parquet")
    customers = pd.read_parquet(sim / "customers.parquet")
    rng = np.random.default_rng(3)
    events["event_type"] = events["event_type"].astype(str).replace(RENAMED)
    channel = events["channel"].astype(object)
    swap = rng.random(len(events))
    channel = channel.where(~((channel == "chat") & (swap < 0.5)), "chatbot")
    events["channel"] = channel.where(~((channel == "call_centre") & (swap < 0.4)), "whatsapp")
    cancels = events[events["event_type"] == "cancel"]
    late = cancels.sample(frac=0.7, random_state=1).assign(
        event_type="delivery_late",
        event_time=lambda f: f["event_time"] - pd.Timedelta(days=12),
        channel="whatsapp",
        value=np.nan,
        text=None,
    )
    events = pd.concat([events, late], ignore_index=True)
    desk = events["event_type"].isin(["ticket_opened", "complaint", "delivery_late"])
    iso = events["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    crm = events.loc[~desk].assign(at=iso[~desk]).rename(
        columns={"customer_id": "client", "event_type": "activity", "channel": "medium",
                 "value": "amount", "text": "note"})  # fmt: skip
    crm[["client", "at", "activity", "medium", "amount", "note"]].to_csv(
        folder / "crm.csv", index=False
    )
    desk_rows = events.loc[desk].assign(opened=iso[desk]).rename(
        columns={"customer_id": "client", "event_type": "kind", "channel": "via",
                 "value": "hours", "text": "body"})  # fmt: skip
    desk_rows[["client", "opened", "kind", "via", "hours", "body"]].to_csv(
        folder / "helpdesk.csv", index=False, sep=";"
    )
    people = customers[["customer_id", "signup_time"]].rename(
        columns={"customer_id": "client", "signup_time": "since"}
    )
    people.assign(since=people["since"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        folder / "crm_customers.csv", index=False
    )
    extra = [c for c in customers.columns if c not in ("customer_id", "signup_time")]
    customers[["customer_id", *extra]].to_parquet(folder / "profile.parquet")
    (folder / "mapping.yaml").write_text(MAPPING, encoding="utf-8")


@pytest.fixture(scope="module")
def business(tmp_path_factory: pytest.TempPathFactory) -> tuple[Prepared, pd.DataFrame]:
    root = tmp_path_factory.mktemp("taxonomy")
    run_simulate(root / "sim", customers=2000, seed=21)
    exports(root, root / "sim")
    data = root / "data"
    done = runner.invoke(
        app, ["import", "events", "--map", str(root / "mapping.yaml"), "--out", str(data)]
    )
    assert done.exit_code == 0, done.output
    # the profile attributes the CRM keeps beside its events
    imported = pd.read_parquet(data / "customers.parquet")
    profile = pd.read_parquet(root / "profile.parquet")
    imported.merge(profile, on="customer_id").to_parquet(data / "customers.parquet")
    raw = yaml.safe_load((REPO / "pipelines" / "demo.yaml").read_text(encoding="utf-8"))
    raw.pop("actions")  # this business has no campaign log yet
    raw["data"] = {"dir": str(data)}
    raw["features"]["taxonomy"] = TAXONOMY
    raw["features"]["topics"] = TOPICS
    raw["model"] |= {
        "max_rounds": 150,
        "early_stopping_rounds": 20,
        "threads": 1,
        "survival_periods": SMALL_SURVIVAL,
    }
    raw["cutoffs"]["first"] = "2024-07-01"
    config_path = root / "business.yaml"
    config_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = load_config(config_path)
    trained = train(config)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with tracking_env(root, uri):
        run = record(trained, config)
        scored, _ = run_score(config, CUTOFF, root / "scored")
    return Prepared(root, data, config_path, uri, run.model_name, run.version), scored


def test_imported_from_both_exports_with_the_business_names(business):
    prepared, _ = business
    events = pd.read_parquet(prepared.data_dir / "events.parquet")
    assert set(events["source"]) == {"crm", "helpdesk"}
    assert {"order", "ticket_opened", "delivery_late"} <= set(events["event_type"])
    assert {"whatsapp", "chatbot"} <= set(events["channel"].dropna())


def test_features_and_reasons_use_the_business_words(business):
    prepared, scored = business
    config: PipelineConfig = load_config(prepared.config)
    with tracking_env(prepared.workdir, prepared.tracking_uri):
        from cxml.jobs.score import load_scorer

        catalog = load_scorer(prepared.model_name, "champion").bundle.catalog
    names = set(catalog.index)
    assert {"n_delivery_late_30d", "n_channel_whatsapp_30d", "n_channel_chatbot_30d"} <= names
    templates = " ".join(catalog["template"])
    assert "late deliveries" in templates and "via WhatsApp" in templates
    assert {"n_topic_support_90d", "n_topic_price_90d"} <= names
    assert "comments about price" in templates
    assert "help-desk tickets" in templates  # the renamed built-in type, in its own words
    # the orders counted as purchases: the built-in meaning (amount spent) reads them
    assert scored["churn_probability"].between(0, 1).all()
    reasons = pd.concat([scored[f"reason_{i}"] for i in (1, 2, 3)])
    assert reasons.str.contains("late deliveries").any()  # the new type drives some risk
    assert config.features.taxonomy.display("whatsapp") == "WhatsApp"


def test_the_endpoint_takes_the_business_types_and_says_what_it_does_not_know(business):
    prepared, _ = business
    history = [
        {"event_time": "2025-06-01T10:00:00Z", "event_type": "order", "channel": "web",
         "value": 40.0},
        {"event_time": "2025-06-10T10:00:00Z", "event_type": "ticket_opened",
         "channel": "whatsapp", "value": 30.0},
        {"event_time": "2025-06-12T10:00:00Z", "event_type": "delivery_late",
         "channel": "chatbot"},
    ]  # fmt: skip
    body = {"customer": {"customer_id": "new-1", "signup_time": "2024-01-01T00:00:00Z"},
            "events": history, "as_of": f"{CUTOFF}T00:00:00Z"}  # fmt: skip
    odd = {**body, "events": [*history, {"event_time": "2025-06-13T10:00:00Z",
                                          "event_type": "teleport"}]}  # fmt: skip
    with Server(prepared) as server, httpx.Client(base_url=server.url, timeout=30.0) as client:
        known = client.post("/predict", json=body)
        assert known.status_code == 200, known.text[:500]
        assert not known.json().get("notes")
        unknown = client.post("/predict", json=odd)
        assert unknown.status_code == 200, unknown.text[:500]
        assert "'teleport' is not in this model's taxonomy" in unknown.json()["notes"][0]

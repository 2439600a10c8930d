"""The page's data on tiny inline tables: the list's filters, search, sort and paging on the
server, and which interactions a customer's view marks as behind a reason."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cxml.data.simulate import SimConfig, simulate
from cxml.report.timeline import chunked_views, customer_views
from cxml.report.ui import (
    Listing,
    action_words,
    chunk_without,
    index_without,
    list_without,
    static_files,
)

CUTOFF = pd.Timestamp("2025-06-30", tz="UTC")


def _scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a1", "a2", "b1", "b2"],
            "cutoff": CUTOFF,
            "churn_probability": [0.9, 0.7, 0.5, 0.1],
            "churn_risk_band": ["high", "high", "medium", "low"],
            "churn_rank": [1, 2, 3, 4],
            "satisfaction_drop_probability": [0.2, 0.1, 0.3, 0.0],
            "action": ["discount", "none", "support_callback", "discount"],
            "action_expected_gain": [12.0, 0.0, 30.0, 5.0],
            "reason_1": ["2 support tickets from the last 90 days still unresolved", "", "x", ""],
            "reason_family_1": ["support", "", "voice", ""],
        }
    )


def test_the_list_filters_searches_sorts_and_pages():
    listing = Listing.of(_scored(), pd.Series({"a1": "retail", "b1": "retail"}), "€")
    ids = lambda params: [r["customer_id"] for r in listing.query(params)[1]]  # noqa: E731
    assert ids({}) == ["a1", "a2", "b1", "b2"]
    assert ids({"band": "high"}) == ["a1", "a2"]
    assert ids({"action": "discount"}) == ["a1", "b2"]
    assert ids({"segment": "retail"}) == ["a1", "b1"]
    assert ids({"family": "support"}) == ["a1"]
    assert ids({"q": "b"}) == ["b1", "b2"]
    assert ids({"sort": "gain", "desc": "1"}) == ["b1", "a1", "b2", "a2"]
    assert ids({"offset": "1", "limit": "2"}) == ["a2", "b1"]
    assert listing.query({"band": "high", "limit": "1"})[0] == 2  # the total, not the page
    assert listing.options()["action"] == ["discount", "no action", "support callback"]
    with pytest.raises(ValueError, match="sort"):
        listing.query({"sort": "name"})
    assert action_words("education_email") == "education email"


def test_a_view_has_every_event_before_the_cutoff_and_marks_those_behind_a_reason():
    listing = Listing.of(_scored())
    events = pd.DataFrame(
        {
            "customer_id": ["a1"] * 5 + ["a2"],
            "event_time": pd.to_datetime(
                [
                    "2025-06-01",  # a ticket inside the reason's 90 days: marked
                    "2025-01-10",  # a ticket before the 90 days: not marked
                    "2025-06-10",  # a login: not what the reason is about
                    "2025-06-20",  # a complaint: support family, inside: marked
                    "2025-07-02",  # after the cutoff: not shown
                    "2025-06-05",  # another customer's
                ],
                utc=True,
            ),
            "event_type": [
                *["support_ticket", "support_ticket", "login", "complaint"],
                *["support_ticket", "login"],
            ],
            "channel": ["call_centre", None, "app", "email", "email", "app"],
            "value": [None, 2.0, None, None, None, None],
            "text": [
                None,
                "call me on +44 7700 900123 or jo.k@mail.example",
                None,
                "still waiting",
                None,
                None,
            ],
        }
    )
    tables, views = customer_views(listing.frame, events, None, CUTOFF)
    line = views["a1"]["timeline"]
    when = pd.to_datetime(line["t"], unit="m", utc=True).strftime("%m-%d").tolist()
    assert when == ["06-20", "06-10", "06-01", "01-10"]  # newest first, none after the cutoff
    assert line["m"] == [1, 0, 1, 0]
    assert [tables["types"][k] for k in line["k"]][:2] == ["complaint", "login"]
    assert line["x"][0] == "still waiting" and line["s"][0] is not None
    assert views["a1"]["reasons"] == ["2 support tickets from the last 90 days still unresolved"]
    assert views["a2"]["timeline"]["m"] == [0]  # no reasons: nothing marked
    # contact details a customer wrote are masked, the words kept
    assert line["x"][3] == "call me on [number] or [e-mail]"


def _read(views: tuple[dict, dict]) -> dict[str, dict]:
    """Views with their timelines' codes read through their tables, as the page reads them."""
    tables, by_id = views
    out = {}
    for cid, view in by_id.items():
        line = view["timeline"]
        words = [tables["types"][k] for k in line["k"]], [tables["channels"][c] for c in line["c"]]
        out[cid] = {**view, "timeline": {**line, "k": words[0], "c": words[1]}}
    return out


@pytest.mark.parametrize("categorical", [True, False])
def test_the_static_folder_built_a_chunk_at_a_time_shows_what_the_whole_list_shows(categorical):
    sim = simulate(SimConfig(customers=40, seed=3))
    rng = np.random.default_rng(0)
    ids = sim.customers["customer_id"].astype(str).to_numpy()[::-1]  # rank order is not id order
    scored = pd.DataFrame(
        {
            "customer_id": ids,
            "cutoff": CUTOFF,
            "churn_probability": np.linspace(0.9, 0.1, len(ids)),
            "churn_risk_band": "high",
            "churn_rank": np.arange(1, len(ids) + 1),
            "action": "discount",
            "action_expected_gain": 1.0,
            "reason_1": rng.choice(
                [
                    "2 support tickets from the last 90 days still unresolved",
                    "days since the last of the logins: 40",
                    "",
                ],
                len(ids),
            ),
            "reason_family_1": "support",
        }
    )
    listing = Listing.of(scored)
    stranger = sim.events.iloc[:3].assign(customer_id="Z9")  # a customer not on the list
    events = pd.concat([sim.events, stranger]).sample(frac=1.0, random_state=1)
    ids_type = "category" if categorical else object
    events["customer_id"] = events["customer_id"].astype(str).astype(ids_type)
    actions = sim.actions.sample(frac=1.0, random_state=2)
    assert (events["event_time"] >= CUTOFF).any() and (actions["action_time"] < CUTOFF).any()

    whole = _read(customer_views(listing.frame, events, actions, CUTOFF))
    chunks = chunked_views(listing.frame, events, actions, CUTOFF, size=7)
    assert len(chunks) == 6
    parts = [_read(views()) for views in chunks]
    assert [list(p) for p in parts] == [list(ids[k : k + 7]) for k in range(0, 40, 7)]
    assert {cid: v for p in parts for cid, v in p.items()} == whole
    assert sum(len(v["timeline"]["t"]) for v in whole.values()) > 100  # something was shown
    assert sum(len(v["received"]) for v in whole.values()) > 0

    # the folder: one script per chunk of the page's size, made when it is written
    files = static_files(listing, chunked_views(listing.frame, events, actions, CUTOFF))
    assert sorted(files) == ["data/c0.js", "data/list.js", "index.html"]
    text = files["data/c0.js"]()
    chunk = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    assert _read((chunk["tables"], chunk["views"])) == json.loads(json.dumps(whole))


def _script_data(text: str) -> dict:
    return json.loads(text[text.index("(") + 1 : text.rindex(")")])


def test_a_forgotten_customer_leaves_the_static_folder_and_the_others_keep_their_ranks():
    listing = Listing.of(_scored(), pd.Series({"a1": "retail", "a2": "retail"}))
    events = pd.DataFrame(
        {
            "customer_id": ["a1", "a2", "a2", "b2"],
            "event_time": pd.to_datetime(["2025-06-01", "2025-05-01", "2025-06-02", "2025-06-03"]),
            "event_type": ["login", "login", "support_ticket", "purchase"],
        }
    ).assign(event_time=lambda f: f["event_time"].dt.tz_localize("UTC"))
    files = {
        name: make()
        for name, make in static_files(
            listing, chunked_views(listing.frame, events, None, CUTOFF)
        ).items()
    }
    assert "a2" in files["data/list.js"] and "a2" in files["data/c0.js"]

    text, removed = list_without(files["data/list.js"], {"a2", "nobody"})
    columns = _script_data(text)["columns"]
    assert removed == 1 and "a2" not in text
    assert columns["customer_id"] == ["a1", "b1", "b2"] and columns["rank"] == [1, 3, 4]
    whole = _script_data(files["data/list.js"])["columns"]
    for name, values in columns.items():  # every column lost the same row, and only it
        assert values == [v for i, v in enumerate(whole[name]) if i != 1], name
    assert list_without(text, {"a2"}) == (text, 0)  # nothing left to take: the same text

    chunk, views = chunk_without(files["data/c0.js"], {"a2"})
    kept = _script_data(chunk)["views"]
    assert views == 1 and "a2" not in chunk and sorted(kept) == ["a1", "b1", "b2"]
    assert kept["b2"] == _script_data(files["data/c0.js"])["views"]["b2"]

    page = index_without(files["index.html"], removed)
    assert '<span id="count">3</span> customers' in page
    assert '<span id="count">4</span> customers' in files["index.html"]
    assert "(c.rank[i] - 1) / META.chunk" in page  # a row's chunk follows its rank
    assert '"ranked":4' in page.replace(" ", "")  # "rank N of" the last rank: the gap is kept
    with pytest.raises(ValueError, match="cxmlChunk"):
        chunk_without(files["data/list.js"], {"a2"})


@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_rows_are_grouped_as_one_stable_sort_groups_them(block):
    from cxml.report.timeline import grouped_rows

    group = np.random.default_rng(3).integers(-1, 5, 200).astype(np.int16)
    group[group == 3] = -1  # a group with no row
    order = np.argsort(group, kind="stable")
    ends = np.cumsum(np.bincount(group + 1, minlength=6))
    expected = np.split(order, ends[:-1])[1:]
    found = grouped_rows(group, 5, block)
    assert [g.tolist() for g in found] == [e.tolist() for e in expected]
    assert found[3].size == 0 and found[0].dtype == np.int16  # the narrowest type for 200 rows
    assert grouped_rows(group, 0, block) == []

"""The team's page: the scored list to sort, filter, search and page through, and each customer's
view (report/timeline.py). Served by `cxml serve` at /ui (serving/ui.py pages the list on the
server) and written by `cxml score` as a self-contained folder `ui/` (the list in one compact
script, the customer views in chunk scripts loaded when opened: script tags work from a file://
folder where fetch does not).

Only scored-list columns and non-PII customer attributes (the segment) are shown. Pure: frames
in, JSON-ready data and HTML out.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import orjson
import pandas as pd

from cxml.data.schema import utc_timestamp
from cxml.report.format import date
from cxml.report.page import environment

PAGE = 100  # rows per page of the list
CHUNK = 500  # customers per customer-view script of the static folder
Views = tuple[dict[str, list[str]], dict[str, dict[str, Any]]]  # code tables, views by id
REASONS = 3
SORTS = ("rank", "churn", "drop", "gain", "customer_id")  # the columns the list sorts by


def action_words(name: object) -> str:
    """An action as an agent reads it: "education_email" -> "education email"."""
    if name is None or (isinstance(name, float) and np.isnan(name)) or name == "":
        return ""
    return "no action" if name == "none" else str(name).replace("_", " ")


def _texts(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), "", dtype=object)
    return frame[column].fillna("").astype(str).to_numpy(dtype=object)


def _numbers(frame: pd.DataFrame, column: str, digits: int) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return frame[column].astype(float).round(digits).to_numpy()


@dataclass(frozen=True)
class Listing:
    """The scored list as the page shows it, in rank order: one row per customer."""

    frame: pd.DataFrame  # customer_id, rank, churn, band, drop, action, gain, segment, ...
    at: pd.Timestamp | None  # the cutoff (UTC)
    model: str
    currency: str = ""

    @property
    def cutoff(self) -> str:
        """The cutoff as people read it: the day, and the time when it is not midnight."""
        return "" if self.at is None else date(self.at, time=self.at != self.at.normalize())

    @classmethod
    def of(
        cls,
        scored: pd.DataFrame,
        segments: pd.Series | None = None,
        currency: str = "",
    ) -> Listing:
        """`scored`: a scored list (scored.csv's columns); `segments`: each customer's segment
        by id (a non-PII customer attribute), if the data has one."""
        scored = scored.sort_values("churn_rank", kind="stable", ignore_index=True)
        ids = scored["customer_id"].astype(str)
        reasons = np.stack([_texts(scored, f"reason_{i}") for i in range(1, REASONS + 1)], 1)
        families = np.stack(
            [_texts(scored, f"reason_family_{i}") for i in range(1, REASONS + 1)], 1
        )
        segment = (
            np.full(len(scored), "", dtype=object)
            if segments is None
            else ids.map(segments.astype(str)).fillna("").to_numpy(dtype=object)
        )
        frame = pd.DataFrame(
            {
                "customer_id": ids.to_numpy(dtype=object),
                "rank": scored["churn_rank"].astype(int).to_numpy(),
                "churn": _numbers(scored, "churn_probability", 4),
                "band": _texts(scored, "churn_risk_band"),
                "drop": _numbers(scored, "satisfaction_drop_probability", 4),
                "action": [action_words(a) for a in _texts(scored, "action")],
                "gain": _numbers(scored, "action_expected_gain", 2),
                "low": _numbers(scored, "action_gain_low", 2),  # its 90% interval, if known
                "high": _numbers(scored, "action_gain_high", 2),
                "cost": _numbers(scored, "action_cost", 2),
                "why": _texts(scored, "action_reason"),
                "runner_up": [action_words(a) for a in _texts(scored, "runner_up_action")],
                "value": _numbers(scored, "customer_value", 2),
                "segment": segment,
                "explained": scored["explained"].astype(bool).to_numpy()
                if "explained" in scored
                else np.ones(len(scored), dtype=bool),
                "reasons": [tuple(t for t in row if t) for row in reasons],
                "families": [tuple(f for f in row if f) for row in families],
            }
        )
        at = utc_timestamp(scored["cutoff"].iloc[0]) if len(scored) else None
        model = ""
        if "model_name" in scored and len(scored):
            model = f"{scored['model_name'].iloc[0]} v{scored['model_version'].iloc[0]}"
        return cls(frame, at, model, currency)

    def options(self) -> dict[str, list[str]]:
        """The values each filter offers, in the order the page lists them."""
        bands = [b for b in ("high", "medium", "low") if (self.frame["band"] == b).any()]
        bands += sorted(set(self.frame["band"]) - {*bands, ""})
        families = sorted({f for row in self.frame["families"] for f in row})
        return {
            "band": bands,
            "action": sorted(set(self.frame["action"]) - {""}),
            "segment": sorted(set(self.frame["segment"]) - {""}),
            "family": families,
        }

    def meta(self, mode: str) -> dict[str, Any]:
        """What the page needs before any row: how it gets rows, and its filters."""
        return {
            "mode": mode,
            "cutoff": self.cutoff,
            "model": self.model,
            "currency": self.currency,
            "total": len(self.frame),
            # the last rank: a customer's "rank N of" it, which a forgotten customer's
            # gap in the ranks (`list_without`) leaves true, where the count would not
            "ranked": int(self.frame["rank"].max()) if len(self.frame) else 0,
            "page": PAGE,
            "options": self.options(),
            "sorts": list(SORTS),
            "chunk": CHUNK,
        }

    def query(self, params: Mapping[str, str]) -> tuple[int, list[dict[str, Any]]]:
        """The rows matching the filters (band, action, segment, family: exact; q: the start of
        a customer id), sorted and paged (sort, desc, offset, limit): the total and the page."""
        frame, mask = self.frame, np.ones(len(self.frame), dtype=bool)
        for column in ("band", "action", "segment"):
            if params.get(column):
                mask &= (frame[column] == params[column]).to_numpy()
        if family := params.get("family"):
            mask &= np.array([family in row for row in frame["families"]], dtype=bool)
        if q := params.get("q", "").strip():
            mask &= frame["customer_id"].str.startswith(q).to_numpy()
        picked = frame[mask]
        sort = params.get("sort") or "rank"
        if sort not in SORTS:
            raise ValueError(f"sort: {sort!r} is not one of {', '.join(SORTS)}")
        descending = params.get("desc") == "1"
        picked = picked.sort_values(sort, ascending=not descending, kind="stable")
        offset, limit = _whole(params, "offset", 0), min(_whole(params, "limit", PAGE), 1000)
        return len(picked), json_rows(picked.iloc[offset : offset + limit])

    def row(self, customer_id: str) -> dict[str, Any] | None:
        found = self.frame[self.frame["customer_id"] == customer_id]
        return json_rows(found)[0] if len(found) else None


def _whole(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name) or str(default)
    if not raw.isdigit():
        raise ValueError(f"{name}: {raw!r} is not a whole number")
    return int(raw)


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN as None, tuples as lists), made a column at a time."""
    names = list(frame.columns)
    columns = [_json_column(frame[name]) for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _json_column(column: pd.Series) -> list[Any]:
    """`json_value` of each value: numbers in one pass, other values one by one."""
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
    if kind == "f":
        values = column.to_numpy().astype(object)  # Python floats
        values[np.isnan(column.to_numpy())] = None
        return values.tolist()
    if kind in "iub":
        return column.tolist()  # Python ints and bools
    return [json_value(v) for v in column.tolist()]


def json_value(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def render_ui(meta: Mapping[str, Any], static: bool = False) -> str:
    """The page; `meta` from `Listing.meta`. With `static`, it reads data/list.js."""
    return environment().get_template("ui.html.j2").render(meta=meta, static=static)


#: orjson, as the standard library's json would write it for the page (keys as text, numpy
#: numbers as numbers), in a fraction of its time: the page's chunks are most of what a
#: scoring run with the page writes.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _script(call: str, data: object) -> str:
    """A script that hands `data` to the page's function `call`: JSON is JavaScript, and a
    "</" inside a text cannot end the script tag it is loaded by (nor can it from a src)."""
    text = orjson.dumps(data, option=_JSON_OPTIONS).decode()
    safe = text.replace("</", "<\\/")
    return f"{call}({safe});\n"


def compact(listing: Listing) -> dict[str, Any]:
    """The whole list in few bytes, for the static folder: repeated texts as numbers into
    tables, columns rather than rows; the page turns a row back into what `rows` gives.
    Numbers stay numpy arrays, which orjson writes as it writes Python numbers (a missing one
    as null), so a big list makes no Python object per number."""
    frame = listing.frame
    tables: dict[str, list[str]] = {}
    columns: dict[str, Any] = {}
    for column in ("band", "action", "segment", "runner_up", "why"):
        codes, uniques = pd.factorize(frame[column])
        tables[column], columns[column] = [str(u) for u in uniques], codes
    pairs = [
        (text, family)
        for r, f in zip(frame["reasons"], frame["families"], strict=True)
        for text, family in zip(r, f, strict=True)
    ]
    codes, uniques = pd.factorize(pd.Series([f"{t}\x1f{f}" for t, f in pairs], dtype=object))
    tables["reason"] = [str(u) for u in uniques]
    counts = np.array([len(r) for r in frame["reasons"]])
    starts = np.concatenate([[0], np.cumsum(counts)])
    columns["reasons"] = [codes[a:b].tolist() for a, b in itertools.pairwise(starts)]
    columns["explained"] = frame["explained"].to_numpy(dtype=np.int64)
    for column in ("customer_id", "rank", "churn", "drop", "gain", "low", "high", "cost", "value"):
        values = frame[column]
        kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else "O"
        if kind == "f":  # as float64, the Python float a list would hold (float32 prints shorter)
            columns[column] = values.to_numpy(dtype=np.float64)
        elif kind in "iu":
            columns[column] = values.to_numpy()
        else:
            columns[column] = _json_column(values)
    return {"tables": tables, "columns": columns}


def static_files(
    listing: Listing, chunks: Sequence[Callable[[], Views]]
) -> dict[str, Callable[[], str]]:
    """The static folder's files (path in the folder -> a call that makes its text): the page,
    the list, and a script per chunk of CHUNK customers in rank order, made from `chunks`
    (report/timeline.py `chunked_views`) only when it is written. A list row's rank names its
    chunk: ranks 1 to CHUNK are in c0.js, the next CHUNK in c1.js, and so on (the page reads
    it so), which holds when rows are taken out of the list (`list_without`)."""
    return {
        "index.html": partial(render_ui, listing.meta("static"), static=True),
        "data/list.js": lambda: _script("cxmlList", compact(listing)),
        **{f"data/c{k}.js": partial(_chunk_script, views) for k, views in enumerate(chunks)},
    }


def _chunk_script(views: Callable[[], Views]) -> str:
    tables, part = views()
    return _script("cxmlChunk", {"tables": tables, "views": part})


# A customer forgotten (jobs/forget.py) goes from a written static folder: their list row, their
# view, and the page's count. The other rows keep their ranks, so each still finds its chunk.


def list_without(text: str, ids: set[str]) -> tuple[str, int]:
    """data/list.js without the rows of the customers `ids`, and how many rows went."""
    data = _script_data(text, "cxmlList")
    columns = data["columns"]
    keep = [customer not in ids for customer in columns["customer_id"]]
    removed = keep.count(False)
    if not removed:
        return text, 0
    data["columns"] = {
        name: list(itertools.compress(values, keep)) for name, values in columns.items()
    }
    return _script("cxmlList", data), removed


def chunk_without(text: str, ids: set[str]) -> tuple[str, int]:
    """A data/c*.js chunk without the views of the customers `ids`, and how many went."""
    data = _script_data(text, "cxmlChunk")
    gone = [customer for customer in data["views"] if customer in ids]
    if not gone:
        return text, 0
    for customer in gone:
        del data["views"][customer]
    return _script("cxmlChunk", data), len(gone)


def index_without(text: str, removed: int) -> str:
    """The page (index.html) counting `removed` customers fewer, made again from its own
    settings (`Listing.meta`, kept in the page)."""
    found = re.search(r'<script type="application/json" id="meta">(.*?)</script>', text, re.S)
    if found is None:
        raise ValueError("not the index.html of the team's page: it holds no settings")
    meta = json.loads(found.group(1))
    meta["total"] = max(int(meta["total"]) - removed, 0)
    return render_ui(meta, static=True)


def _script_data(text: str, call: str) -> Any:
    """The data a `_script(call, data)` text hands to the page."""
    head, tail = f"{call}(", ");\n"
    if not (text.startswith(head) and text.endswith(tail)):
        raise ValueError(f"not a {call} script of the team's page")
    return orjson.loads(text[len(head) : -len(tail)])

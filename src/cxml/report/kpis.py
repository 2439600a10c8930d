"""The numbers behind the report, as small pure functions: frames in, frames and floats out.

`nps_trend` and `retention_rate` read the event history; the others summarise a scored list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.config import LabelConfig
from cxml.data.schema import utc_timestamp
from cxml.features.labels import churn_labels

BANDS = ("high", "medium", "low")
PROMOTER, DETRACTOR = 9.0, 6.0  # NPS: 9–10 promote, 0–6 detract


def _naive_utc(times: pd.Series) -> pd.Series:
    return pd.to_datetime(times, utc=True).dt.tz_localize(None)


def nps_trend(events: pd.DataFrame, until: str | pd.Timestamp, months: int = 12) -> pd.DataFrame:
    """Net promoter score per calendar month, for the `months` months up to `until` (the last one
    partial when `until` is mid-month; only `event_time < until` counts). NPS = % promoters
    (9–10) − % detractors (0–6) of the `survey_nps` answers; a month without answers has NaN,
    and so does every month when the events carry no `value` column (it is optional).
    Columns: month ("YYYY-MM"), nps, responses."""
    end = utc_timestamp(until).tz_localize(None)
    last = (end - pd.Timedelta(1, "ns")).to_period("M")
    periods = pd.period_range(end=last, periods=months, freq="M")
    is_nps = (events["event_type"] == "survey_nps").to_numpy(dtype=bool)  # its rows only
    # .loc: a Series indexed with a mask would make (and cache on the index all the events'
    # columns share) an array of every event's row number
    times = _naive_utc(events.loc[is_nps, "event_time"])
    values = events.loc[is_nps, "value"] if "value" in events else pd.Series(np.nan, times.index)
    keep = (times < end).to_numpy() & (times >= periods[0].start_time).to_numpy()
    score = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)[keep]
    answered = ~np.isnan(score)
    month = times[keep].to_numpy(dtype="datetime64[M]")[answered]  # numbers, not Periods
    at = (month - np.datetime64(periods[0].start_time, "M")).astype(np.int64)
    score = score[answered]
    responses = np.bincount(at, minlength=months)
    net = np.bincount(at, (score >= PROMOTER).astype(float) - (score <= DETRACTOR), months)
    nps = 100.0 * net / np.where(responses > 0, responses, np.nan)
    return pd.DataFrame({"month": [str(p) for p in periods], "nps": nps, "responses": responses})


def retention_rate(
    events: pd.DataFrame, customers: pd.DataFrame, cutoff: str | pd.Timestamp, labels: LabelConfig
) -> float:
    """Share of the population one horizon before `cutoff` who did not churn by it, by the
    churn definition the model was trained on (a cancellation, or inactivity). NaN with no
    customers."""
    churned = churn_labels(events, customers, utc_timestamp(cutoff) - labels.horizon, labels)
    return float(1 - churned.mean()) if len(churned) else float("nan")


def revenue_at_risk(scored: pd.DataFrame, value: pd.Series) -> tuple[float, int]:
    """Σ churn_probability × customer value, and how many scored customers had no value."""
    per = value.copy()
    per.index = per.index.astype(str)
    matched = per.reindex(scored["customer_id"].astype(str)).to_numpy(dtype=float)
    known = ~np.isnan(matched)
    p = scored["churn_probability"].to_numpy(dtype=float)
    return float(np.sum(p[known] * matched[known])), int((~known).sum())


def band_table(scored: pd.DataFrame, value: pd.Series | None) -> pd.DataFrame:
    """Per risk band: customers, share, mean probability, expected churners (and revenue)."""
    rows = []
    for band in BANDS:
        part = scored[scored["churn_risk_band"] == band]
        p = part["churn_probability"]
        row = {
            "band": band,
            "customers": len(part),
            "share": len(part) / max(len(scored), 1),
            "mean_probability": float(p.mean()) if len(part) else np.nan,
            "expected_churners": float(p.sum()),
        }
        if value is not None:
            row["revenue_at_risk"] = revenue_at_risk(part, value)[0]
        rows.append(row)
    return pd.DataFrame(rows)


def action_mix(scored: pd.DataFrame) -> pd.DataFrame:
    """Per recommended action: customers, share, total cost, total expected gain; 'none' last."""
    frame = pd.DataFrame(
        {
            "action": scored["action"].fillna("none").astype(str).replace("", "none"),
            "cost": pd.to_numeric(scored.get("action_cost", np.nan), errors="coerce"),
            "gain": pd.to_numeric(scored.get("action_expected_gain", np.nan), errors="coerce"),
        }
    )
    mix = frame.groupby("action", sort=True).agg(
        customers=("action", "size"),
        cost=("cost", lambda s: s.sum(min_count=1)),
        expected_gain=("gain", lambda s: s.sum(min_count=1)),
    )
    mix = mix.reset_index()
    mix["share"] = mix["customers"] / max(len(scored), 1)
    mix["_none"] = mix["action"] == "none"
    mix = mix.sort_values(["_none", "customers", "action"], ascending=[True, False, True])
    return mix.drop(columns="_none").reset_index(drop=True)


def nps_change(nps: pd.DataFrame, back: int = 3) -> tuple[float, str, float]:
    """The latest month with answers, its NPS, and the change against the month `back` calendar
    months before it (NaN when that month had no answers or is not in the table)."""
    answered = np.flatnonzero(nps["responses"].to_numpy() > 0)
    if len(answered) == 0:
        return float("nan"), "", float("nan")
    at = int(answered[-1])
    latest = float(nps["nps"].iloc[at])
    earlier = float(nps["nps"].iloc[at - back]) if at >= back else float("nan")
    return latest, str(nps["month"].iloc[at]), latest - earlier

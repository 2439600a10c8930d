"""build_features on the whole base at one cutoff, next to a plain pandas groupby of the same
aggregations (counts per type and window, amounts, recency, channel counts), in the same process.
build_features returns the feature table (column arrays); making its DataFrame (`.frame()`, what
files and notebooks read) is timed on its own line.

Targets (issue 3): >= 2x the pandas baseline and >= 15M events/s; one customer with ~200 events
in <= 2 ms; peak memory under 3x the events' in-memory size.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pandas as pd

from cxml.config import FeatureConfig
from cxml.data.simulate import Simulation
from cxml.features.build import build_features


def pandas_baseline(events: pd.DataFrame, cutoff: pd.Timestamp, cfg: FeatureConfig) -> pd.DataFrame:
    """The obvious pandas: filter, then one groupby + unstack per window and family."""
    age = (cutoff - events["event_time"]).dt.total_seconds() / 86_400
    ev = events.assign(age=age)[(age > 0) & (age <= max(cfg.windows))]
    parts = []
    for window in cfg.windows:
        w = ev[ev["age"] <= window]
        counts = (
            w.groupby(["customer_id", "event_type"], observed=True).size().unstack(fill_value=0)
        )
        parts.append(counts.add_prefix("n_").add_suffix(f"_{window}d"))
        buys = w[w["event_type"] == "purchase"].groupby("customer_id", observed=True)["value"].sum()
        parts.append(buys.rename(f"amount_purchase_{window}d").to_frame())
        chan = w.groupby(["customer_id", "channel"], observed=True).size().unstack(fill_value=0)
        parts.append(chan.add_prefix("n_channel_").add_suffix(f"_{window}d"))
    recency = ev.groupby(["customer_id", "event_type"], observed=True)["age"].min().unstack()
    parts.append(recency.add_prefix("days_since_last_"))
    return pd.concat(parts, axis=1)


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(sim: Simulation) -> None:
    cfg, cutoff = FeatureConfig(), sim.config.cutoff
    events, customers = sim.events, sim.customers
    visible = int(
        (
            (events["event_time"] < cutoff)
            & (events["event_time"] >= cutoff - pd.Timedelta(days=365))
        ).sum()
    )
    ours = timed(lambda: build_features(events, customers, cutoff, cfg), repeat=3)
    built = build_features(events, customers, cutoff, cfg)
    framed = timed(built.frame, repeat=3)  # the DataFrame files and notebooks read
    base = timed(lambda: pandas_baseline(events, cutoff, cfg), repeat=1)
    tracemalloc.start()
    build_features(events, customers, cutoff, cfg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = events.memory_usage(deep=True).sum()
    print("features (one cutoff, whole base)")
    print(f"  events in frame      {len(events):>12,}   ({visible:,} in the 365-day look-back)")
    print(f"  build_features       {ours:>12.2f} s   {len(events) / ours:>14,.0f} events/s")
    print(f"  + .frame()           {framed:>12.2f} s   (the feature table as a DataFrame)")
    print(f"  pandas baseline      {base:>12.2f} s   {len(events) / base:>14,.0f} events/s")
    print(f"  speed-up             {base / ours:>12.1f}x  (target >= 2x; >= 15M events/s)")
    print(
        f"  peak memory          {peak / 2**20:>12.0f} MiB = {peak / size:.2f}x the events' "
        f"{size / 2**20:.0f} MiB (target < 3x)"
    )
    _one_customer(sim, cfg)


def _one_customer(sim: Simulation, cfg: FeatureConfig) -> None:
    counts = sim.events["customer_id"].value_counts()
    cid = (counts - 200).abs().idxmin()
    own = sim.events[sim.events["customer_id"] == cid]
    own = own.assign(customer_id=own["customer_id"].astype(str))
    row = sim.customers[sim.customers["customer_id"] == cid]
    cutoff = own["event_time"].max() + pd.Timedelta(seconds=1)
    build_features(own, row, cutoff, cfg)  # warm-up
    times = [timed(lambda: build_features(own, row, cutoff, cfg)) for _ in range(200)]
    print(
        f"  one customer         {len(own):>12,} events: p50 {np.median(times) * 1e3:.2f} ms, "
        f"p99 {np.percentile(times, 99) * 1e3:.2f} ms (target <= 2 ms)\n"
    )

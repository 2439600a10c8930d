"""The plain pandas script `make bench` times `cxml features` against, as a whole process: read
the events, count them by customer, type, channel and window, the purchase amounts and the
days since each type's last event, and write Parquet. No validation, no quarantine.

Usage: python benchmarks/plain_features.py DATA_DIR CUTOFF OUT.parquet
"""

import sys

import pandas as pd


def main(data_dir: str, cutoff: str, out: str) -> None:
    cut = pd.Timestamp(cutoff, tz="UTC")
    columns = ["customer_id", "event_time", "event_type", "channel", "value"]
    events = pd.read_parquet(f"{data_dir}/events.parquet", columns=columns)
    age = (cut - events["event_time"]).dt.total_seconds() / 86_400
    events = events.assign(age=age)[(age > 0) & (age <= 365)]
    parts = []
    for window in (7, 30, 90, 365):
        w = events[events["age"] <= window]
        by_type = w.groupby(["customer_id", "event_type"], observed=True).size()
        parts.append(by_type.unstack(fill_value=0).add_prefix("n_").add_suffix(f"_{window}d"))
        by_channel = w.groupby(["customer_id", "channel"], observed=True).size()
        parts.append(
            by_channel.unstack(fill_value=0).add_prefix("n_channel_").add_suffix(f"_{window}d")
        )
        buys = w[w["event_type"] == "purchase"].groupby("customer_id", observed=True)["value"].sum()
        parts.append(buys.rename(f"amount_purchase_{window}d").to_frame())
    last = events.groupby(["customer_id", "event_type"], observed=True)["age"].min().unstack()
    parts.append(last.add_prefix("days_since_last_"))
    pd.concat(parts, axis=1).reset_index().to_parquet(out)


if __name__ == "__main__":
    main(*sys.argv[1:4])

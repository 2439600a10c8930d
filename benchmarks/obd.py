"""The off-policy estimators checked against a known answer on real logged-bandit data.

The Open Bandit Dataset sample (`$CXML_SHARED_DATA/open_bandit_dataset`, see its README) holds
two logs of one fashion site over the same week: a uniform-random policy and a Bernoulli Thompson
sampling (BTS) policy. The BTS policy's value (its click rate) is estimated from the random log
alone, by IPS and by doubly robust (DR), and compared with the BTS log's own on-policy click
rate. BTS does not read user features, so its probability of each item at each position is
taken from the BTS log (the items' shares at that position).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxml.actions.offpolicy import bootstrap_ci, dr_value, ips_value

COLUMNS = ["item_id", "position", "click", "propensity_score"]
#: DR's reward model: each (item, position)'s click rate shrunk toward the log's by this many
#: pseudo-impressions, fitted on one half of the log and used on the other (cross-fitted).
PRIOR_WEIGHT = 200


def read_log(folder: Path, policy: str) -> pd.DataFrame:
    path = folder / policy / "all.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: set CXML_SHARED_DATA to the shared data")
    log = pd.read_csv(path, usecols=COLUMNS)
    log["item_id"] = log["item_id"].astype(str)
    return log


def target_policy(bts: pd.DataFrame, positions: pd.Series, items: list[str]) -> pd.DataFrame:
    """Per row of another log, BTS's probability of each item at that row's position."""
    shares = pd.crosstab(bts["position"], bts["item_id"], normalize="index")
    shares = shares.reindex(columns=items, fill_value=0.0)
    return shares.loc[positions.to_numpy()].reset_index(drop=True)


def reward_model(log: pd.DataFrame, items: list[str], seed: int = 0) -> pd.DataFrame:
    """Cross-fitted q̂(x, item): the click rate of (item, this row's position), shrunk toward
    the overall rate, learned on the half of the log the row is not in."""
    half = np.random.default_rng(seed).integers(0, 2, len(log))
    out = pd.DataFrame(0.0, index=range(len(log)), columns=items)
    for fold in (0, 1):
        fit, use = log[half != fold], np.flatnonzero(half == fold)
        base = fit["click"].mean()
        cells = fit.groupby(["position", "item_id"])["click"].agg(["sum", "count"])
        rate = (cells["sum"] + PRIOR_WEIGHT * base) / (cells["count"] + PRIOR_WEIGHT)
        table = rate.unstack("item_id").reindex(columns=items).fillna(base)
        table = table.reindex([1, 2, 3]).fillna(base)
        out.iloc[use] = table.loc[log["position"].to_numpy()[use]].to_numpy()
    return out


def measure(folder: Path, n_boot: int = 1000) -> dict[str, tuple[float, float, float]]:
    """(estimate, low, high) of the BTS click rate: on-policy, and IPS and DR from the random
    log; 95% bootstrap intervals over impressions."""
    random, bts = read_log(folder, "random"), read_log(folder, "bts")
    items = sorted(set(random["item_id"]) | set(bts["item_id"]), key=int)
    target = target_policy(bts, random["position"], items)
    args = (random["click"], random["item_id"], random["propensity_score"], target)
    clicks = bts["click"].to_numpy(dtype=float)
    return {
        "on-policy (BTS log)": bootstrap_ci(np.mean, clicks, n_boot=n_boot),
        "IPS from the random log": bootstrap_ci(ips_value, *args, n_boot=n_boot),
        "DR from the random log": bootstrap_ci(
            dr_value, *args, reward_model(random, items), n_boot=n_boot
        ),
    }


def lines(measured: dict[str, tuple[float, float, float]]) -> list[str]:
    truth = measured["on-policy (BTS log)"][0]
    out = [f"{'':26} {'click rate':>10}  {'95% interval':>19}  {'rel. error':>10}  covers"]
    for name, (estimate, low, high) in measured.items():
        error = abs(estimate - truth) / truth
        covers = "-" if name.startswith("on-policy") else ("yes" if low <= truth <= high else "no")
        out.append(f"{name:26} {estimate:10.5f}  [{low:.5f}, {high:.5f}]  {error:10.1%}  {covers}")
    return out

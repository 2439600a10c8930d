"""Which customer value should an action's gain be reckoned on: the fixed rule or lifetime value?

On simulated bases whose truth follows each action's revenue for a year (`value_weeks=52`:
what keeping a customer is truly worth, an effect that wears off and a customer who leaves
soon after a save included), trains exactly as `cxml train --config pipelines/demo.yaml`
twice, once per `actions.value.rule`, and prints at the test cutoff, with the demo's budget,
the true value of the policy each rule picks, beside the simple policies and the oracle (the
same allocation on the true values). The truth is the same for both rules; only the value
the model ranks by differs.

Run: `make value-rule` (CUSTOMERS="20000" SEEDS="7 11" to change the bases).
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import pandas as pd

from benchmarks import report
from cxml.config import load_config
from cxml.jobs import train as job
from cxml.jobs.ingest import run_simulate

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"
RULES = ("fixed", "lifetime")
SHOWN = ("cxml", "no_action", "top_risk_best_average", "everyone_best_average", "oracle")
VALUE_WEEKS = 52


def policies(data: Path, rule: str) -> pd.DataFrame:
    """The run's policy table (true value from the revenue truth) under one value rule."""
    config = load_config(PIPELINE, data_dir=data)
    assert config.actions is not None
    actions = replace(config.actions, value=replace(config.actions.value, rule=rule))
    trained = job.train(config.model_copy(update={"actions": actions}), show_progress=False)
    table = trained.tables["nba_policies"].set_index("policy")
    fallback = trained.bundle.info.get("policy_fallback")
    used = fallback["policy"] if isinstance(fallback, dict) else "cxml"
    table["used"] = table.index == used
    return table


def compare(customers: int, seed: int, folder: Path) -> list[str]:
    data = folder / f"sim-{customers}-{seed}"
    run_simulate(data, customers=customers, seed=seed, value_weeks=VALUE_WEEKS)
    tables = {rule: policies(data, rule) for rule in RULES}
    rows = []
    for rule, table in tables.items():
        for policy in SHOWN:
            if policy in table.index:
                row = table.loc[policy]
                rows.append(
                    {
                        "rule": rule,
                        "policy": policy + (" (used)" if row["used"] else ""),
                        "treated": int(row["treated"]),
                        "spend": float(row["spend"]),
                        "true_value": float(row["true_value"]),
                        "estimated_value": float(row["estimated_value"]),
                    }
                )
    shown = pd.DataFrame(rows).set_index(["rule", "policy"])
    out = [f"{customers:,} customers, seed {seed} (truth: revenue over {VALUE_WEEKS} weeks):"]
    out += ["  " + line for line in shown.round(0).to_string().splitlines()]
    used = {rule: table.loc[table["used"], "true_value"].iloc[0] for rule, table in tables.items()}
    oracle = float(tables["fixed"].at["oracle", "true_value"])
    gap = used["lifetime"] - used["fixed"]
    out.append(
        f"  policy used, true value: fixed rule {used['fixed']:,.0f} "
        f"({used['fixed'] / oracle:.3f} of the oracle), lifetime rule {used['lifetime']:,.0f} "
        f"({used['lifetime'] / oracle:.3f}); lifetime - fixed = {gap:+,.0f}"
    )
    return out


def main() -> None:
    sizes = [int(n) for n in os.environ.get("CUSTOMERS", "20000").split()]
    seeds = [int(s) for s in os.environ.get("SEEDS", "7 11").split()]
    start = time.perf_counter()
    recorder = report.Recorder()
    with recorder.section("value-rule", "Which value rule"):
        print(__doc__.split("\n\n", 1)[1].split("\n\nRun:")[0].strip() + "\n")
        with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
            warnings.simplefilter("ignore")
            for customers in sizes:
                for seed in seeds:
                    for line in compare(customers, seed, Path(tmp)):
                        print(line, flush=True)
                    print(flush=True)
        print(f"wall time {time.perf_counter() - start:.0f} s")
    written = report.write(recorder.sections, "make value-rule")
    if written:
        print(f"written to {written} (CXML_BENCH_DOC=0 to skip)")


if __name__ == "__main__":
    main()

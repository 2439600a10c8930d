"""The loop closed on the simulator: train → score → act → observe, round after round.

Round 0 is a fresh simulated base. Each round trains exactly as `cxml train --config
pipelines/demo.yaml`, scores everyone at the base's evaluation cutoff as `cxml score` does (the
allocation under the budget, the control group and exploration, the fallback if training chose
one), and the world then goes on under those decisions (`cxml simulate --continue`, 16 weeks: the
decisions' outcome window closes before the next cutoff, so the next training learns from them,
weighted by their logged propensities). Per round it prints the true value (from the simulator's
truth at that cutoff, same budget) of the list as acted out, of the learned policy, of the simple
policies and of the oracle, and the learned policy's share of the oracle; and, for reference, the
ceiling of round 0's base: the share of an uplift model fitted to the true effects of other bases
(`make oracle-gap`).

Run: `make loop` (CUSTOMERS="20000", SEEDS="7 11", ROUNDS=3, CEILING=1 to change).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import pandas as pd

from benchmarks import oracle_gap
from cxml.actions.baselines import true_policy_value, true_values
from cxml.config import PipelineConfig, load_config
from cxml.jobs import train as job
from cxml.jobs.ingest import continue_simulation, run_simulate
from cxml.jobs.inputs import load_inputs
from cxml.jobs.score import base_features, decisions
from cxml.scoring.scorer import Scorer

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"
WEEKS = 16  # a multiple of the campaign cycle, longer than the 13-week outcome window
SIMPLE = ("no_action", "top_risk_best_average", "everyone_best_average")


def pipeline(data: Path, at: pd.Timestamp) -> PipelineConfig:
    """The demo's pipeline with its cutoffs moved to a base whose evaluation cutoff is `at`: the
    test cutoff at it, the monthly ones up to four months before, as the demo's are."""
    config = load_config(PIPELINE, data_dir=data)
    last = (at - pd.Timedelta(days=121)).replace(day=1).date()
    cutoffs = replace(config.cutoffs, last=last, extra=(at.date(),))
    return config.model_copy(update={"cutoffs": cutoffs})


def one_round(data: Path, folder: Path, index: int) -> tuple[dict[str, object], Path]:
    """Train on `data`, score at its cutoff, and write the decisions; what was true of them."""
    truth = pd.read_parquet(data / "truth.parquet").set_index("customer_id")
    at = pd.Timestamp(truth["cutoff"].iloc[0])
    config = pipeline(data, at)
    trained = job.train(config, show_progress=False)
    table = trained.tables["nba_policies"].set_index("policy")
    loaded = load_inputs(config, folder / f"quarantine-{index}", write=False)
    features = base_features(loaded, trained.bundle, at, data)
    scorer = Scorer(trained.bundle, "loop", str(index))
    result = scorer.score(
        features, at, 0.0, loaded.tables.get("actions"), False, experiment=config.experiment
    )
    scored = result.frame().reset_index()
    actions = trained.bundle.actions
    assert actions is not None
    cost = {a.name: a.cost for a in actions.catalog}
    values = true_values(truth.loc[scored["customer_id"]], list(cost), cost)
    listed = pd.Series(scored["action"].to_numpy(), index=scored["customer_id"])
    path = folder / f"decisions-{index}.parquet"
    decisions(scored, {a.name: a.channel for a in actions.catalog}).to_parquet(path)
    fallback = trained.bundle.info.get("policy_fallback")
    return {
        "round": index,
        "cutoff": at.date(),
        "used": fallback["policy"] if isinstance(fallback, dict) else "cxml",
        "list": true_policy_value(listed, values),
        "expected": float(scored["action_expected_gain"].sum()),
        "table": table,
    }, path


def lines(found: dict[str, object], ceiling: float | None) -> list[str]:
    table = found["table"]
    assert isinstance(table, pd.DataFrame)
    true = table["true_value"]
    oracle = float(true["oracle"])
    share = float(true["cxml"]) / oracle
    out = [
        f"round {found['round']} (cutoff {found['cutoff']}): learned policy "
        f"{true['cxml']:,.0f}, share of the oracle {share:.3f}"
        + (f" ({share / ceiling:.2f} of the ceiling {ceiling:.3f})" if ceiling else ""),
        "  " + ", ".join(f"{p} {true[p]:,.0f}" for p in SIMPLE) + f", oracle {oracle:,.0f}",
        f"  the list as acted out (policy used: {found['used']}; control group and exploration"
        f" included): true {found['list']:,.0f}, expected {found['expected']:,.0f}",
    ]
    return out


def run(customers: int, seed: int, rounds: int, folder: Path, ceiling: bool) -> None:
    data = folder / "round-0"
    run_simulate(data, customers, seed)
    top = None
    if ceiling:
        config = load_config(PIPELINE, data_dir=data)
        loaded = load_inputs(config, write=False)
        frame = job.training_frame(config, loaded, oracle_gap.inputs.cutoffs(config))
        top = oracle_gap.ceiling_share(config, loaded, frame, seed, customers)
    print(f"{customers:,} customers, seed {seed}:", flush=True)
    for index in range(rounds):
        found, decided = one_round(data, folder, index)
        for line in lines(found, top):
            print(line, flush=True)
        if index + 1 < rounds:
            following = folder / f"round-{index + 1}"
            continue_simulation(data, decided, WEEKS, following)
            data = following
    print(flush=True)


def main() -> None:
    sizes = [int(n) for n in os.environ.get("CUSTOMERS", "20000").split()]
    seeds = [int(s) for s in os.environ.get("SEEDS", "7 11").split()]
    rounds = int(os.environ.get("ROUNDS", "3"))
    ceiling = os.environ.get("CEILING", "1") != "0"
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        for customers in sizes:
            for seed in seeds:
                run(customers, seed, rounds, Path(tmp) / f"{customers}-{seed}", ceiling)


if __name__ == "__main__":
    main()

"""Is the policy a run uses worth what it says, and never worse than a simple policy?

On simulated bases of several sizes, trains exactly as `cxml train --config pipelines/demo.yaml`
and prints, at the test cutoff and the demo's budget, each policy's true value (from the
simulator's truth), cxml's own estimate, and the doubly robust estimate from the campaign logged
there; then which policy the run uses (the learned one, or the simple one it fell back to), how
its true value compares with every simple policy's, and how its expected gain (what the list
promises) compares with its true value.

Run: `make policy-check` (CUSTOMERS="3000 20000" SEEDS="7 11" to change the bases).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from cxml.config import load_config
from cxml.jobs import train as job
from cxml.jobs.ingest import run_simulate

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"
SIMPLE = ("no_action", "top_risk_best_average", "everyone_best_average")


def check(customers: int, seed: int, folder: Path) -> dict[str, object]:
    data = folder / f"sim-{customers}-{seed}"
    run_simulate(data, customers=customers, seed=seed)
    config = load_config(PIPELINE, data_dir=data)
    trained = job.train(config, show_progress=False)
    table = trained.tables["nba_policies"].set_index("policy")
    fallback = trained.bundle.info.get("policy_fallback")
    used = fallback["policy"] if isinstance(fallback, dict) else "cxml"
    true = table["true_value"]
    best_simple = max(SIMPLE, key=lambda p: true[p])
    return {
        "customers": customers,
        "seed": seed,
        "used": used,
        "table": table,
        "true_used": float(true[used]),
        "best_simple": best_simple,
        "true_best_simple": float(true[best_simple]),
        "expected_used": float(table.at[used, "estimated_value"]),
        "oracle": float(true["oracle"]),
        "deciles": trained.tables.get("uplift_deciles"),
        "calibration": trained.bundle.info.get("uplift_calibration"),
        "spread_ratio": trained.metrics.get("uplift_halves_spread_ratio"),
    }


def lines(found: dict[str, object]) -> list[str]:
    table = found["table"]
    assert isinstance(table, pd.DataFrame)
    out = [f"{found['customers']:,} customers, seed {found['seed']}:"]
    columns = ["true_value", "estimated_value", "dr_value", "dr_low", "dr_high"]
    shown = table[[c for c in columns if c in table]]
    out += ["  " + line for line in shown.round(0).to_string().splitlines()]
    used, true_used = found["used"], float(found["true_used"])  # type: ignore[arg-type]
    expected = float(found["expected_used"])  # type: ignore[arg-type]
    verdict = "not worse" if true_used >= float(found["true_best_simple"]) else "WORSE"  # type: ignore[arg-type]
    out.append(
        f"  used: {used}; true value {true_used:,.0f} vs best simple "
        f"({found['best_simple']}) {found['true_best_simple']:,.0f}: {verdict}; "
        f"share of the oracle {true_used / float(found['oracle']):.3f}"  # type: ignore[arg-type]
    )
    ratio = expected / true_used if true_used else float("nan")
    out.append(
        f"  expected gain of the used policy {expected:,.0f} vs its true value "
        f"{true_used:,.0f}: ratio {ratio:.2f} (target within 0.85-1.15)"
    )
    calibration = found.get("calibration")
    if isinstance(calibration, dict):
        se = float(calibration["var_slope"]) ** 0.5
        out.append(
            f"  calibration on the held-out campaign: slope fitted "
            f"{calibration['fitted_slope']:.2f}"
            f" (se {se:.2f}; the halves' x {found.get('spread_ratio') or float('nan'):.2f} spread"
            f" carried over), used {calibration['slope']:.2f}; mean effect per action"
            " (learner / measured / used):"
        )
        for name, est, fit, used in zip(
            calibration["actions"],
            calibration["estimated"],
            calibration["fitted_measured"],
            calibration["measured"],
            strict=True,
        ):
            out.append(f"    {name:<18} {est:+.4f} / {fit:+.4f} / {used:+.4f}")
    deciles = found.get("deciles")
    if isinstance(deciles, pd.DataFrame):
        out.append("  predicted vs true uplift (fall in churn probability), by decile:")
        out += ["  " + line for line in deciles.round(4).to_string(index=False).splitlines()]
    return out


def main() -> None:
    sizes = [int(n) for n in os.environ.get("CUSTOMERS", "3000 20000").split()]
    seeds = [int(s) for s in os.environ.get("SEEDS", "7 11").split()]
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        for customers in sizes:
            for seed in seeds:
                for line in lines(check(customers, seed, Path(tmp))):
                    print(line, flush=True)
                print(flush=True)


if __name__ == "__main__":
    main()

"""Uplift and next-best-action on the real randomized Hillstrom e-mail test.

What was fixed before any test half was scored, and why:

* Learner: `XLearner` with the module defaults (LightGBM, 7 leaves, ≥ 200 rows per leaf,
  200 rounds at rate 0.05, seed 0). Both were chosen by internal 50/50 validation inside the
  *training* half of split 0 only (5 inner splits, uplift@30%): T-, X- and DR-learners at
  15 / 100, 7 / 200 and 4 / 300 leaves / rows per leaf; smaller trees ranked better for every
  learner and the X-learner was best or tied in each setting. Caveat: the 10 splits together
  cover every row, so rows of split 0's training half sit in the test halves of splits 1–9;
  no setting was changed after the test halves below were scored.
* Features: the pre-treatment columns as the importer gives them (`channel` is
  `purchase_channel`); the learner ordinal-codes the text columns itself.
* Propensity: the log's 1/3, renormalised to 1/2 for the two-arm subset.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from benchmarks.hillstrom_policy import FEATURES, measure
from benchmarks.hillstrom_policy import experiment as _experiment
from sklearn.model_selection import train_test_split

from cxml.models.evaluate_uplift import ips_policy_value, uplift_at_k
from cxml.models.uplift import XLearner

HILLSTROM = "hillstrom_email/hillstrom.csv"
#: scikit-uplift's pipeline notebook, one 50/50 split: ClassTransformation + XGBoost.
PUBLISHED_UPLIFT_AT_30 = 0.066


experiment = cache(_experiment)


def halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """50/50 split stratified on action × visit."""
    strata = frame["action"] + frame["visit"].astype(str)
    train, test = train_test_split(frame, test_size=0.5, random_state=seed, stratify=strata)
    return train, test


def test_womens_email_uplift_at_30_percent_matches_the_published_figure(
    shared_data: Path,
) -> None:
    data = experiment(shared_data / HILLSTROM)
    data = data[data["action"] != "mens_email"]
    scores = []
    for seed in range(10):
        train, test = halves(data, seed)
        model = XLearner(control="no_email", seed=0).fit(
            train[FEATURES], train["action"], train["visit"], train["propensity"] / (2 / 3)
        )
        uplift = model.predict_uplift(test[FEATURES])["womens_email"]
        treated = (test["action"] == "womens_email").astype(int)
        scores.append(uplift_at_k(test["visit"], uplift, treated, k=0.3, strategy="overall"))
    mean = float(np.mean(scores))
    print(f"\nHillstrom womens vs no e-mail, visit, uplift@30% (overall): mean {mean:.4f}")
    print("  per split (seeds 0-9): " + " ".join(f"{s:.4f}" for s in scores))
    assert mean >= PUBLISHED_UPLIFT_AT_30


def test_three_action_policy_keeps_up_with_mailing_everyone_the_mens_email(
    shared_data: Path,
) -> None:
    """Non-regression, not a claim of superiority: the learned policy (the e-mail with the larger
    positive uplift, else none) is worth at least the best single e-mail minus its CI half-width,
    both valued by IPS with the logged propensity 1/3 on the test half."""
    train, test = halves(experiment(shared_data / HILLSTROM), seed=0)
    model = XLearner(control="no_email", seed=0).fit(
        train[FEATURES], train["action"], train["visit"], train["propensity"]
    )
    uplift = model.predict_uplift(test[FEATURES])[["mens_email", "womens_email"]]
    policy = uplift.idxmax(axis=1).where(uplift.max(axis=1) > 0, "no_email")
    everyone_mens = pd.Series("mens_email", index=test.index)
    values = {
        name: ips_policy_value(
            test["visit"], test["action"], target, test["propensity"], n_boot=1000, seed=0
        )
        for name, target in (("policy", policy), ("all mens", everyone_mens))
    }
    shares = {str(k): round(float(v), 3) for k, v in policy.value_counts(normalize=True).items()}
    print(f"\nHillstrom 3-action policy, IPS visit rate on the test half; policy mix {shares}")
    for name, (est, low, high) in values.items():
        print(f"  {name:9s} {est:.4f} (95% CI {low:.4f}-{high:.4f})")
    est, low, high = values["all mens"]
    assert values["policy"][0] >= est - (high - low) / 2


def test_three_action_policy_is_not_worse_than_the_best_single_email_doubly_robust(
    shared_data: Path,
) -> None:
    """The same policy valued doubly robust (a T-learner's visit rates as the outcome model):
    its paired difference with the best single e-mail must not be wholly below zero."""
    measured = measure(shared_data / HILLSTROM, n_boot=500)
    name = next(n for n in measured if n.startswith("learned policy - "))
    estimate, low, high = measured[name]
    print(f"\nHillstrom DR: {name} {estimate:+.4f} (95% CI {low:+.4f} to {high:+.4f})")
    assert high >= 0 and low <= estimate <= high

"""The learned 3-action e-mail policy on the real Hillstrom test, valued doubly robust.

Hillstrom randomised 64,000 customers to a men's e-mail, a women's e-mail or none (propensity 1/3
each). On one half, an X-learner learns each e-mail's uplift on visits (as tests/data/
test_hillstrom_uplift.py fixes it) and a T-learner each arm's visit rate (DR's outcome model); on
the other half, the policy (the e-mail with the larger positive uplift, else none) and every
single-e-mail policy are valued by DR with the logged propensities, and the policy's difference
with the best single e-mail gets a paired bootstrap interval.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from cxml.actions.offpolicy import dr_terms, terms_ci
from cxml.data.importers import import_hillstrom
from cxml.models.uplift import TLearner, XLearner

FEATURES = [
    "recency",
    "history_segment",
    "history",
    "mens",
    "womens",
    "zip_code",
    "newbie",
    "purchase_channel",
]
ARMS = ["mens_email", "womens_email", "no_email"]


def experiment(path: Path) -> pd.DataFrame:
    """One row per customer: pre-treatment features, logged action and propensity, visit 0/1."""
    tables = import_hillstrom(path).tables
    frame = tables["customers"].merge(tables["actions"], on="customer_id", validate="1:1")
    visitors = tables["events"].query("event_type == 'visit'")["customer_id"]
    frame["visit"] = frame["customer_id"].isin(visitors).astype(int)
    return frame.set_index("customer_id")[[*FEATURES, "action", "propensity", "visit"]]


def measure(path: Path, seed: int = 0, n_boot: int = 1000) -> dict[str, tuple[float, float, float]]:
    """(estimate, low, high) of the visit rate per policy on the test half, and of the learned
    policy minus the best single e-mail (paired)."""
    data = experiment(path)
    strata = data["action"] + data["visit"].astype(str)
    train, test = train_test_split(data, test_size=0.5, random_state=seed, stratify=strata)
    learner = XLearner(control="no_email", seed=0).fit(
        train[FEATURES], train["action"], train["visit"], train["propensity"]
    )
    uplift = learner.predict_uplift(test[FEATURES])[["mens_email", "womens_email"]]
    policy = uplift.idxmax(axis=1).where(uplift.max(axis=1) > 0, "no_email").to_numpy(object)
    outcome = TLearner(control="no_email", seed=0).fit(
        train[FEATURES], train["action"], train["visit"], train["propensity"]
    )
    predicted = outcome.predict_outcomes(test[FEATURES])[ARMS]
    args = (test["visit"], test["action"], test["propensity"])
    terms = {"learned policy": dr_terms(*args, policy, predicted)}
    terms |= {f"everyone: {arm}": dr_terms(*args, arm, predicted) for arm in ARMS}
    out = {name: terms_ci(t, n_boot, seed=seed) for name, t in terms.items()}
    best = max((n for n in terms if n.startswith("everyone: ") and "no_email" not in n),
               key=lambda n: out[n][0])  # fmt: skip
    out[f"learned policy - {best.removeprefix('everyone: ')}"] = terms_ci(
        terms["learned policy"] - terms[best], n_boot, seed=seed
    )
    mix = pd.Series(policy).value_counts(normalize=True)
    out["policy mix"] = tuple(float(mix.get(a, 0.0)) for a in ARMS)  # type: ignore[assignment]
    return out


def lines(measured: dict[str, tuple[float, float, float]]) -> list[str]:
    out = [f"{'':38} {'visit rate':>10}  95% interval"]
    for name, (estimate, low, high) in measured.items():
        if name == "policy mix":
            mix = ", ".join(f"{a} {s:.0%}" for a, s in zip(ARMS, measured[name], strict=True))
            out.append(f"(the learned policy sends: {mix})")
            continue
        out.append(f"{name:38} {estimate:10.4f}  [{low:+.4f}, {high:+.4f}]")
    return out


if __name__ == "__main__":
    import os

    folder = Path(os.environ.get("CXML_SHARED_DATA", "../shared/data"))
    for line in lines(measure(folder / "hillstrom_email" / "hillstrom.csv")):
        print(line)

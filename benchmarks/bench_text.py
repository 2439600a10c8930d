"""Sentiment and topics of customer comments, measured on a labelled set.

tests/data/customer_comments.csv: 209 short comments written for this check (billing, delivery,
network, app and login, price, cancellation, service), each labelled with its sentiment and
topic; with negation ("not happy"), intensity ("Terrible!!!"), sarcasm ("Oh great, another
surprise charge"), typos and neutral questions. Sentiment: VADER (what cxml uses) against the
plain lexicon average cxml used before. Topics: seed matching (a few phrases per topic, as a
pipeline config gives them) against the classifier cxml learns from labelled examples (TF-IDF of
character n-grams + logistic regression, features/topics.py), from the examples alone and from
the examples with the seed phrases (what cxml does when a config gives both), judged by 5-fold
cross-validation: each fold's comments are read by a classifier fitted on the other folds only,
through the plain data a model keeps.

Run: `python -m benchmarks.bench_text` (rewrites its section of docs/performance.md; also part of
`make bench`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from cxml.features.sentiment import sentiment
from cxml.features.topics import Seeds, fit_topics, learned_topics, seed_topics

HERE = Path(__file__).resolve().parent
COMMENTS = HERE.parent / "tests" / "data" / "customer_comments.csv"
OLD_LEXICON = HERE / "data" / "old_lexicon.txt"
#: Scores within this of 0 read as neutral (VADER's authors use 0.05).
NEUTRAL = 0.05
#: What a business would write in its config: a few phrases per topic, not tuned to the set.
SEEDS = {
    "billing": ["bill", "billing", "invoice", "charged", "charge", "refund", "direct debit", "fee"],
    "delivery": ["delivery", "delivered", "parcel", "package", "courier", "tracking", "order"],
    "network": ["signal", "internet", "outage", "broadband", "wifi", "network", "speed", "router"],
    "app": ["app", "log in", "login", "password", "website", "online", "account"],
    "price": ["price", "expensive", "cheaper", "discount", "deal", "value", "afford"],
    "cancellation": ["cancel", "cancelling", "leaving", "close my account", "switching"],
    "service": ["agent", "support", "service", "hold", "staff", "help", "called", "engineer"],
}


def old_lexicon(texts: pd.Series) -> np.ndarray:
    """The mean word score cxml used before (NaN, read as neutral, when no word is known)."""
    pairs = (
        line.split("\t")
        for line in OLD_LEXICON.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    lexicon = {word: float(score) for word, score in pairs}
    scores = []
    for text in texts:
        hits = [lexicon[w] for w in str(text).lower().replace(",", " ").split() if w in lexicon]
        scores.append(np.mean(hits) if hits else np.nan)
    return np.array(scores)


def _labels(scores: np.ndarray) -> np.ndarray:
    return np.where(
        np.isnan(scores) | (np.abs(scores) <= NEUTRAL),
        "neutral",
        np.where(scores > 0, "positive", "negative"),
    )


def cross_validated(texts: np.ndarray, topics: np.ndarray, seeds: Seeds | None) -> np.ndarray:
    """Each comment's topic by a classifier fitted on the other folds (5, stratified)."""
    found = np.empty(len(texts), dtype=object)
    for fit, held_out in StratifiedKFold(5, shuffle=True, random_state=0).split(texts, topics):
        weights = fit_topics(texts[fit], topics[fit], seeds)
        found[held_out] = learned_topics(texts[held_out], weights)
    return found


def measure(path: Path = COMMENTS) -> dict[str, float]:
    data = pd.read_csv(path)
    truth = data["sentiment"].to_numpy()
    polar = truth != "neutral"
    out: dict[str, float] = {"comments": float(len(data))}
    for name, scores in (("vader", sentiment(data["text"])), ("old", old_lexicon(data["text"]))):
        said = _labels(scores)
        out[f"{name}_accuracy"] = accuracy_score(truth, said)
        out[f"{name}_macro_f1"] = f1_score(truth, said, average="macro")
        out[f"{name}_polar_sign"] = float((said[polar] == truth[polar]).mean())
        out[f"{name}_unscored"] = float(np.isnan(scores).mean())
    topics = data["topic"].to_numpy()
    seeded = seed_topics(data["text"], SEEDS)
    seeded = np.where(pd.isna(seeded), "none", seeded)
    out["seed_accuracy"] = accuracy_score(topics, seeded)
    out["seed_macro_f1"] = f1_score(topics, seeded, average="macro", labels=sorted(SEEDS))
    out["seed_unmatched"] = float((seeded == "none").mean())
    texts = data["text"].to_numpy(dtype=object)
    for name, seeds in (("learned", None), ("learned_seeded", SEEDS)):
        learned = cross_validated(texts, topics, seeds)
        out[f"{name}_accuracy"] = accuracy_score(topics, learned)
        out[f"{name}_macro_f1"] = f1_score(topics, learned, average="macro")
    return out


def run() -> dict[str, float]:
    m = measure()
    print(f"{m['comments']:.0f} labelled customer comments (tests/data/customer_comments.csv)")
    print("sentiment (positive / negative / neutral)   accuracy  macro-F1  sign on polar  unscored")
    for name, label in (("vader", "VADER (cxml now)"), ("old", "lexicon average (before)")):
        print(
            f"  {label:<41} {m[f'{name}_accuracy']:8.3f}  {m[f'{name}_macro_f1']:8.3f}  "
            f"{m[f'{name}_polar_sign']:13.3f}  {m[f'{name}_unscored']:8.1%}"
        )
    print("topics (7)                                  accuracy  macro-F1")
    print(
        f"  {'seed phrases (no labels)':<41} {m['seed_accuracy']:8.3f}  "
        f"{m['seed_macro_f1']:8.3f}   ({m['seed_unmatched']:.1%} matched no topic)"
    )
    for name, label in (
        ("learned", "learned from the examples"),
        ("learned_seeded", "learned from the examples + seed phrases"),
    ):
        print(f"  {label:<41} {m[f'{name}_accuracy']:8.3f}  {m[f'{name}_macro_f1']:8.3f}")
    print("  (learned: each comment read by a classifier fitted on the other 4 of 5 folds)")
    return m


def main() -> None:
    """`python -m benchmarks.bench_text`: print, then rewrite its section of
    docs/performance.md."""
    from benchmarks import report

    report.record_alone(
        "text", "Sentiment and topics of comments", "python -m benchmarks.bench_text", run
    )


if __name__ == "__main__":
    main()

"""Text of customer comments: sentiment that reads negation and punctuation, and topics counted
point in time. The labelled set is tests/data/customer_comments.csv (benchmarks/bench_text.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from benchmarks.bench_text import measure
from pydantic import TypeAdapter, ValidationError

from cxml.config import FeatureConfig
from cxml.features.build import build_features
from cxml.features.sentiment import sentiment
from cxml.features.topics import seed_topics

CUTOFF = pd.Timestamp("2025-01-01", tz="UTC")


def test_negation_intensity_and_punctuation_are_read():
    scores = sentiment(np.array(["not happy", "Terrible!!!", "awful, cancelling my account",
                                 "great service", None, "  "], dtype=object))  # fmt: skip
    assert scores[0] < 0 and scores[1] < 0 and scores[2] < 0  # all negative, none missed
    assert scores[3] > 0
    assert np.isnan(scores[4]) and np.isnan(scores[5])


def test_vader_reads_labelled_comments_better_than_the_old_lexicon():
    m = measure()
    assert m["comments"] >= 200
    assert m["vader_accuracy"] > m["old_accuracy"] + 0.1
    assert m["vader_unscored"] == 0.0 < m["old_unscored"]


def test_seed_topics_whole_words_and_the_first_listed_on_a_tie():
    seeds = {"billing": ["bill", "charged"], "app": ["app", "log in"]}
    found = seed_topics(
        ["charged twice on my bill", "can't log in to the app", "billing? appetite!", None,
         "the app charged me"],
        seeds,
    )  # fmt: skip
    assert list(found) == ["billing", "app", None, None, "billing"]


def test_topic_counts_are_point_in_time():
    customers = pd.DataFrame(
        {"customer_id": ["a"], "signup_time": [CUTOFF - pd.Timedelta(days=400)]}
    )
    day = pd.Timedelta(days=1)
    events = pd.DataFrame(
        {
            "customer_id": ["a"] * 4,
            "event_time": [CUTOFF - 10 * day, CUTOFF - 5 * day, CUTOFF - 200 * day, CUTOFF],
            "event_type": ["complaint"] * 4,
            "text": [
                "you charged me twice",
                "the invoice is wrong",
                "old bill problem",  # outside the 90-day text window
                "another bill error",  # at the cutoff: not before it, not counted
            ],
        }
    )
    config = FeatureConfig(topics={"billing": ("bill", "invoice", "charged"), "app": ("app",)})
    features = build_features(events, customers, CUTOFF, config)
    row = features.frame().loc["a"]
    assert row["n_topic_billing_90d"] == 2 and row["n_topic_app_90d"] == 0
    catalog = features.catalog()
    assert "comments about billing" in catalog.loc["n_topic_billing_90d", "template"]


def test_labelled_examples_teach_the_topics_and_travel_as_plain_data(tmp_path):
    labelled = Path(__file__).parents[1] / "data" / "customer_comments.csv"
    adapter = TypeAdapter(FeatureConfig)
    config = adapter.validate_python({"topic_examples": str(labelled)})
    assert len(config.topic_examples) >= 200
    assert adapter.validate_python(adapter.dump_python(config)) == config  # as a bundle keeps it
    customers = pd.DataFrame(
        {"customer_id": ["a"], "signup_time": [CUTOFF - pd.Timedelta(days=400)]}
    )
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "event_time": [CUTOFF - pd.Timedelta(days=3), CUTOFF - pd.Timedelta(days=2)],
            "event_type": ["complaint", "complaint"],
            "text": ["my parcel never arrived and tracking is stuck", "the courier lost it"],
        }
    )
    row = build_features(events, customers, CUTOFF, config).frame().loc["a"]
    assert row["n_topic_delivery_90d"] == 2 and row["n_topic_billing_90d"] == 0
    with pytest.raises(ValidationError, match=r"nope\.csv: cannot read labelled topic examples"):
        adapter.validate_python({"topic_examples": str(tmp_path / "nope.csv")})

"""Text of customer comments: sentiment that reads negation and punctuation, and topics counted
point in time. The labelled set is tests/data/customer_comments.csv (benchmarks/bench_text.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from benchmarks.bench_text import measure
from pydantic import TypeAdapter, ValidationError

from cxml.config import FeatureConfig, from_plain, plain
from cxml.features.build import build_features
from cxml.features.sentiment import sentiment
from cxml.features.topics import fit_topics, learned_topics, seed_topics, with_classifier

CUTOFF = pd.Timestamp("2025-01-01", tz="UTC")


def test_negation_intensity_and_punctuation_are_read():
    scores = sentiment(np.array(["not happy", "Terrible!!!", "awful, cancelling my account",
                                 "great service", None, "  "], dtype=object))  # fmt: skip
    assert scores[0] < 0 and scores[1] < 0 and scores[2] < 0  # all negative, none missed
    assert scores[3] > 0
    assert np.isnan(scores[4]) and np.isnan(scores[5])


@pytest.fixture(scope="module")
def measured() -> dict[str, float]:
    return measure()


def test_vader_reads_labelled_comments_better_than_the_old_lexicon(measured):
    m = measured
    assert m["comments"] >= 200
    assert m["vader_accuracy"] > m["old_accuracy"] + 0.1
    assert m["vader_unscored"] == 0.0 < m["old_unscored"]


def test_the_learned_classifier_beats_seed_phrases_on_held_out_comments(measured):
    """Cross-validated: every comment is read by a classifier that never saw it."""
    m = measured
    assert m["learned_seeded_accuracy"] > m["seed_accuracy"] + 0.1
    assert m["learned_seeded_macro_f1"] > m["seed_macro_f1"]
    assert m["learned_seeded_accuracy"] > m["learned_accuracy"]  # the seeds help it


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
    later = {"customer_id": "a", "event_time": CUTOFF, "event_type": "complaint",
             "text": "where is my parcel"}  # fmt: skip
    events = pd.concat([events, pd.DataFrame([later])], ignore_index=True)  # at the cutoff: no
    row = build_features(events, customers, CUTOFF, config).frame().loc["a"]
    assert row["n_topic_delivery_90d"] == 2 and row["n_topic_billing_90d"] == 0
    with pytest.raises(ValidationError, match=r"nope\.csv: cannot read labelled topic examples"):
        adapter.validate_python({"topic_examples": str(tmp_path / "nope.csv")})


def _history(texts: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"c{i % 7}" for i in range(len(texts))]
    customers = pd.DataFrame({"customer_id": sorted(set(ids))})
    events = pd.DataFrame(
        {
            "customer_id": ids,
            "event_time": [CUTOFF - pd.Timedelta(days=1 + i % 80) for i in range(len(texts))],
            "event_type": "complaint",
            "text": texts,
        }
    )
    return events, customers


def test_a_trained_model_keeps_the_classifier_as_plain_data_not_the_examples():
    labelled = pd.read_csv(Path(__file__).parents[1] / "data" / "customer_comments.csv")
    examples = [*zip(labelled["text"], labelled["topic"], strict=True)]
    examples += [("Zebulon here, call me on 07700 900123 or zebulon.q@example.com", "service")]
    config = FeatureConfig(topics={"billing": ("bill", "refund")}, topic_examples=tuple(examples))
    kept = with_classifier(config)
    assert kept.topic_examples == () and kept.topic_model is not None
    stored = json.dumps(plain(kept))  # what the bundle's spec holds, through JSON and back
    assert "Zebulon" not in stored and "charged twice" not in stored
    ngrams = kept.topic_model.ngrams
    assert not any(ch.isdigit() for g in ngrams for ch in g)  # no phone or account numbers
    assert not [g for g in ngrams if len(g.strip()) >= 4 and g.strip() in "zebulon"]
    loaded = from_plain(FeatureConfig, json.loads(stored))
    # batch (every customer, the config with its examples) and online (one customer's rows,
    # the model's plain-data classifier) count the same topics
    events, customers = _history(list(labelled["text"].sample(60, random_state=1)))
    batch = build_features(events, customers, CUTOFF, config).frame()
    topics = [c for c in batch.columns if c.startswith("n_topic_")]
    assert len(topics) == 7 and batch[topics].to_numpy().sum() == 60
    for customer in ("c0", "c3"):
        mine = events[events["customer_id"] == customer]
        one = build_features(mine, customers.iloc[[int(customer[1])]], CUTOFF, loaded).frame()
        pd.testing.assert_frame_equal(one[topics], batch.loc[[customer], topics])


def test_plain_data_reads_texts_as_the_fitted_classifier_does():
    labelled = pd.read_csv(Path(__file__).parents[1] / "data" / "customer_comments.csv")
    texts, topics = labelled["text"].to_numpy(), labelled["topic"].to_numpy()
    weights = fit_topics(texts, topics)
    found = learned_topics(texts, weights)
    assert (found == topics).mean() > 0.9  # its own training rows: it learned them
    again = from_plain(FeatureConfig, plain(FeatureConfig(topic_model=weights))).topic_model
    assert again is not None and list(learned_topics(texts, again)) == list(found)
    two = fit_topics(["late parcel", "parcel lost", "wrong bill", "bill too high"],
                     ["delivery", "delivery", "billing", "billing"])  # fmt: skip
    assert list(learned_topics(["my parcel", "the bill", None], two)) == [
        "delivery", "billing", None]  # fmt: skip


def test_bad_topic_examples_say_what_to_fix(tmp_path):
    adapter = TypeAdapter(FeatureConfig)
    rows = tmp_path / "examples.csv"
    rows.write_text("text,topic\nmy bill is wrong,billing\nparcel late,\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"examples.csv: line 3 has no text or no topic"):
        adapter.validate_python({"topic_examples": str(rows)})
    with pytest.raises(ValueError, match="at least two"):
        fit_topics(["bill wrong", "bill late"], ["billing", "billing"])


def test_sentiment_of_no_text_at_all_is_missing_not_an_error():
    """A data dir without comments (the events table's text column optional, or empty)."""
    found = sentiment(np.array([None, None, ""], dtype=object))
    assert found.shape == (3,) and np.isnan(found).all()
    assert sentiment(np.array([], dtype=object)).shape == (0,)

"""Topics of free text (tickets, chats, survey comments) in the business's own terms.

Seed matching: a pipeline config names each topic with a few seed phrases (`features.topics`),
and a text is about the topic whose phrases it contains most (whole words, any case; a tie goes
to the topic listed first; none: no topic). It needs no labelled data.

With labelled examples (`features.topic_examples`) a classifier learns the topics instead: TF-IDF
of character n-grams within words (2 to 5 characters, so "charged", "charge" and a typo's
"chargd" share most of them), then a balanced logistic regression; each seed phrase joins the
examples as one of its topic. Fitted, it is plain data (`TopicWeights`): a model carries the
classifier, never the examples, which are customer text. Digits and e-mail addresses are masked
and an n-gram must occur in two examples to be kept, so no number, and no word only one example
has (a customer's name, usually), is stored. benchmarks/bench_text.py compares both ways on
labelled comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cxml.config import FeatureConfig, TopicWeights

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

Seeds = Mapping[str, Sequence[str]]
#: At most this many n-grams are kept (the most frequent): the model stays small however many
#: examples it learned from.
MAX_NGRAMS = 20_000
_EMAIL = re.compile(r"\S+@\S+")
_DIGITS = re.compile(r"\d+")


@lru_cache(maxsize=16)
def _patterns(seeds: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for topic, phrases in seeds:
        words = "|".join(re.escape(p.strip().lower()) for p in phrases if p.strip())
        out.append((topic, re.compile(rf"\b(?:{words})\b", re.IGNORECASE)))
    return out


def _frozen(seeds: Seeds) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((topic, tuple(phrases)) for topic, phrases in seeds.items())


def seed_topics(texts: np.ndarray | Sequence[object], seeds: Seeds) -> np.ndarray:
    """Per text, the topic whose seed phrases it contains most (None: no phrase, or no text).
    Each distinct text is read once: comments repeat."""
    patterns = _patterns(_frozen(seeds))

    def about(text: str) -> str | None:
        hits = [(len(p.findall(text)), -j, topic) for j, (topic, p) in enumerate(patterns)]
        best = max(hits, default=(0, 0, None))
        return best[2] if best[0] > 0 else None

    return _per_distinct(texts, lambda uniques: [about(t) for t in uniques])


def _per_distinct(texts: np.ndarray | Sequence[object], read) -> np.ndarray:
    """`read` (a list of distinct texts -> one topic each) spread back over `texts`; None
    where there is no text."""
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object), use_na_sentinel=True)
    out = np.full(len(codes), None, dtype=object)
    if len(uniques):
        found = np.asarray(read([str(t) for t in uniques]), dtype=object)
        hit = codes >= 0
        out[hit] = found[codes[hit]]
    return out


def _masked(text: str) -> str:
    return _DIGITS.sub("#", _EMAIL.sub(" ", text.lower()))


def _vectorizer(ngrams: Sequence[str] | None = None) -> TfidfVectorizer:
    """The n-grams read from a text: learned (`ngrams` None) or those of a fitted classifier.
    scikit-learn is imported here, not with the module: every feature build imports this
    module, and only a configured topic classifier needs it."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        preprocessor=_masked,
        sublinear_tf=True,
        min_df=2,
        max_features=MAX_NGRAMS,
        vocabulary=None if ngrams is None else {g: i for i, g in enumerate(ngrams)},
    )


def fit_topics(
    texts: Sequence[str], topics: Sequence[str], seeds: Seeds | None = None
) -> TopicWeights:
    """The classifier learned from labelled texts (and the seed phrases), as plain data."""
    texts, topics = list(texts), list(topics)
    for topic, phrases in (seeds or {}).items():
        texts += list(phrases)
        topics += [topic] * len(phrases)
    if len(set(topics)) < 2:
        raise ValueError(
            f"labelled topic examples name {len(set(topics))} topic(s): a classifier needs "
            "examples of at least two (features.topic_examples, features.topics)"
        )
    vectorizer = _vectorizer()
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no n-gram occurs twice
        raise ValueError(
            f"{len(texts)} labelled topic examples are too few to learn from: give more "
            "(features.topic_examples), or seed phrases alone (features.topics)"
        ) from None
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000).fit(matrix, topics)
    return TopicWeights(
        topics=tuple(str(t) for t in model.classes_),
        ngrams=tuple(str(g) for g in vectorizer.get_feature_names_out()),
        idf=tuple(float(v) for v in vectorizer.idf_),
        coef=tuple(tuple(float(v) for v in row) for row in model.coef_),
        intercept=tuple(float(v) for v in model.intercept_),
    )


class _Reader:
    """A fitted classifier made ready to read texts (from its plain data, once)."""

    def __init__(self, weights: TopicWeights) -> None:
        self.vectorizer = _vectorizer(weights.ngrams)
        self.vectorizer.idf_ = np.asarray(weights.idf, dtype=float)
        self.coef = np.asarray(weights.coef, dtype=float).T
        self.intercept = np.asarray(weights.intercept, dtype=float)
        self.topics = np.asarray(weights.topics, dtype=object)

    def __call__(self, texts: list[str]) -> np.ndarray:
        scores = self.vectorizer.transform(texts) @ self.coef + self.intercept
        if scores.shape[1] == 1:  # two topics: one score, positive for the second
            return self.topics[(scores[:, 0] > 0).astype(int)]
        return self.topics[np.argmax(scores, axis=1)]


# Keyed by identity: a model's classifier is one object for its life, and hashing its weights
# on every request would cost more than reading the texts.
_READERS: dict[int, tuple[TopicWeights, _Reader]] = {}


def learned_topics(texts: np.ndarray | Sequence[object], weights: TopicWeights) -> np.ndarray:
    """Per text, the topic the fitted classifier gives it (None: no text)."""
    found = _READERS.get(id(weights))
    if found is None or found[0] is not weights:
        if len(_READERS) >= 8:
            _READERS.clear()
        found = _READERS[id(weights)] = (weights, _Reader(weights))
    return _per_distinct(texts, found[1])


@lru_cache(maxsize=4)
def _fitted(
    examples: tuple[tuple[str, str], ...], seeds: tuple[tuple[str, tuple[str, ...]], ...]
) -> TopicWeights:
    texts, topics = zip(*examples, strict=True)
    return fit_topics(texts, topics, dict(seeds))


def classifier(config: FeatureConfig) -> TopicWeights | None:
    """The classifier a config reads topics with: the one it carries (a trained model's), else
    one fitted from its labelled examples (once per set), else None: the seed phrases."""
    if config.topic_model is not None:
        return config.topic_model
    if config.topic_examples:
        return _fitted(config.topic_examples, _frozen(config.topics))
    return None


def with_classifier(config: FeatureConfig) -> FeatureConfig:
    """The config as a trained model keeps it: the classifier fitted, the examples dropped."""
    if not config.topic_examples:
        return config
    return replace(config, topic_model=classifier(config), topic_examples=())


def topics_of(texts: np.ndarray, config: FeatureConfig) -> tuple[list[str], np.ndarray]:
    """The config's topics (the seed phrases' order, then any only the examples name) and the
    topic of each text (None: none)."""
    weights = classifier(config)
    if weights is None:
        return list(config.topics), seed_topics(texts, config.topics)
    names = [*config.topics, *(t for t in weights.topics if t not in config.topics)]
    return names, learned_topics(texts, weights)

"""Topics of free text (tickets, chats, survey comments) in the business's own terms.

Seed matching: a pipeline config names each topic with a few seed phrases (`features.topics`),
and a text is about the topic whose phrases it contains most (whole words, any case; a tie goes
to the topic listed first; none: no topic). It needs no labelled data and travels with the model
as plain data, so batch and the endpoint read texts alike.

With labelled examples, a classifier learns the topics instead (TF-IDF of words and word pairs,
then a logistic regression); benchmarks/bench_text.py compares both on labelled comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

Seeds = Mapping[str, Sequence[str]]


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
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object), use_na_sentinel=True)
    patterns = _patterns(_frozen(seeds))
    found = np.full(len(uniques), None, dtype=object)
    for i, text in enumerate(uniques):
        hits = [(len(p.findall(str(text))), -j, topic) for j, (topic, p) in enumerate(patterns)]
        best = max(hits, default=(0, 0, None))
        found[i] = best[2] if best[0] > 0 else None
    out = np.full(len(codes), None, dtype=object)
    hit = codes >= 0
    out[hit] = found[codes[hit]]
    return out


@lru_cache(maxsize=4)
def _learned(examples: tuple[tuple[str, str], ...]) -> Pipeline:
    """The classifier fitted once per set of examples (a model carries them as plain data)."""
    texts, topics = zip(*examples, strict=True)
    return topic_model().fit(list(texts), list(topics))


def learned_topics(
    texts: np.ndarray | Sequence[object], examples: tuple[tuple[str, str], ...]
) -> np.ndarray:
    """Per text, the topic the classifier learned from `examples` gives it (None: no text)."""
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object), use_na_sentinel=True)
    out = np.full(len(codes), None, dtype=object)
    if len(uniques):
        found = _learned(examples).predict([str(t) for t in uniques])
        hit = codes >= 0
        out[hit] = np.asarray(found, dtype=object)[codes[hit]]
    return out


def topic_model(seed: int = 0) -> Pipeline:
    """The classifier for labelled examples: word and word-pair TF-IDF, then a logistic
    regression (balanced: a rare topic is not drowned by a common one)."""
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True),
        LogisticRegression(max_iter=2000, C=10.0, class_weight="balanced", random_state=seed),
    )

"""Calibrator applies its fitted curve itself (scikit-learn's input checks cost more than the
curve for one customer): the probabilities must be scikit-learn's own, bit for bit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from cxml.models.train import TIE_SLOPE, Calibrator, logit


def _scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    raw = rng.uniform(0.01, 0.9, 400)
    return raw, (rng.uniform(size=400) < raw).astype(int)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_probabilities_are_scikit_learns(method: str) -> None:
    raw, y = _scores()
    fitted = pickle.loads(pickle.dumps(Calibrator(method).fit(raw, y)))  # as loaded to serve
    model = fitted.model_
    edges = [0.0, 1e-9, 0.005, 0.95, 1.0, raw.min(), raw.max()]
    if method == "isotonic":
        edges += list(model.X_thresholds_)  # exactly on the curve's knots
    new = np.r_[np.random.default_rng(4).uniform(0, 1, 300), edges]
    if method == "isotonic":  # scikit-learn's curve, with the slope that keeps the order
        expected = (1 - TIE_SLOPE) * model.predict(new) + TIE_SLOPE * np.clip(new, 0, 1)
    else:
        expected = model.predict_proba(logit(new)[:, None])[:, 1]
    np.testing.assert_array_equal(fitted.predict(new), expected)
    np.testing.assert_array_equal(fitted.predict(new[:1]), expected[:1])  # one customer
    assert fitted.predict(new).dtype == np.float64


def test_isotonic_steps_keep_the_raw_order() -> None:
    """A step of the curve would tie its scores (and lower the AUC); the order stays."""
    raw, y = _scores()
    fitted = Calibrator("isotonic").fit(raw, y)
    ordered = np.sort(raw)
    assert np.all(np.diff(fitted.predict(ordered)) > 0)
    assert np.abs(fitted.predict(raw) - fitted.model_.predict(raw)).max() <= TIE_SLOPE

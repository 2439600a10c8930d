"""BG/NBD and Gamma-Gamma: the published CDNOW parameters, and what a buyer is worth."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from cxml.models.repeat_buyers import (
    BGNBD,
    GammaGamma,
    discounted_value,
    fit_bgnbd,
    fit_gamma_gamma,
    rfm_summary,
)

WHEEL = "lifetimes==0.11.3"  # the archived package ships the CDNOW summaries the papers fit


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The CDNOW cohort's summaries, read from the lifetimes wheel fetched at run time."""
    folder = tmp_path_factory.mktemp("cdnow")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    done = subprocess.run([*command, WHEEL, "-d", str(folder)], capture_output=True, text=True)
    wheels = list(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        pytest.skip(f"could not download {WHEEL} for its CDNOW data: {done.stderr[-300:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:

        def read(name: str) -> pd.DataFrame:
            return pd.read_csv(io.BytesIO(wheel.read(f"lifetimes/datasets/{name}")))

        return {
            "summary": read("cdnow_customers_summary.csv"),
            "spend": read("cdnow_customers_summary_with_transactions.csv"),
        }


def test_bgnbd_finds_the_published_cdnow_parameters(cdnow):
    s = cdnow["summary"]
    fitted = fit_bgnbd(s["frequency"], s["recency"], s["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader, Hardie & Lee 2005
    for name, value in published.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=0.01), name
    # their worked example: 2 repeat purchases, the last at 30.43 weeks, 38.86 weeks old,
    # expects 1.226 purchases in the next 39 weeks
    assert fitted.expected_purchases(39.0, 2, 30.43, 38.86)[()] == pytest.approx(1.226, abs=0.01)


def test_gamma_gamma_finds_the_published_cdnow_parameters(cdnow):
    s = cdnow["spend"]
    fitted = fit_gamma_gamma(s["x"], s["zbar"])
    published = {"p": 6.25, "q": 3.74, "v": 15.44}  # Fader, Hardie & Lee, "RFM and CLV"
    for name, value in published.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=0.01), name


def test_the_summary_counts_purchase_days_before_the_cutoff_only():
    cutoff = pd.Timestamp("2025-03-01", tz="UTC")
    times = pd.to_datetime(
        [
            "2025-01-01 09:00",  # a: first purchase day
            "2025-01-01 17:00",  # a: the same day again: one occasion, its spend added
            "2025-01-15 10:00",  # a: one repeat day, 2 weeks after the first
            "2025-01-29 10:00",  # a: a second repeat day, 4 weeks after the first
            "2025-03-01 00:00",  # a: on the cutoff: the future, never read
            "2025-02-15 12:00",  # b: a single purchase: no repeat, no repeat spend
        ],
        utc=True,
    )
    summary = rfm_summary(
        np.array(["a", "a", "a", "a", "a", "b"]),
        times,
        np.array([10.0, 5.0, 20.0, 40.0, 999.0, 7.0]),
        cutoff,
    )
    a, b = summary.loc["a"], summary.loc["b"]
    assert (a["frequency"], a["recency"], a["monetary_value"]) == (2, 4.0, 30.0)
    assert a["T"] == pytest.approx(59 / 7)  # 2025-01-01 to 2025-03-01, in weeks
    assert (b["frequency"], b["recency"], b["monetary_value"]) == (0, 0.0, 0.0)
    assert b["T"] == pytest.approx(14 / 7)


def test_a_buyer_is_worth_more_the_more_and_the_more_lately_they_bought():
    model = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
    spend = GammaGamma(p=6.25, q=3.74, v=15.44)
    summary = pd.DataFrame(
        {
            "frequency": [0, 5, 5, 20],
            "recency": [0.0, 10.0, 38.0, 38.0],  # the second stopped buying 28 weeks ago
            "T": [39.0, 39.0, 39.0, 39.0],
            "monetary_value": [0.0, 30.0, 30.0, 30.0],
        }
    )
    worth = discounted_value(
        model, spend, summary, periods=52, discount_per_period=0.002, margin=0.3
    )
    assert (worth >= 0).all()
    assert worth[1] < worth[2] < worth[3]  # lapsed < recent < frequent
    expected = [model.expected_purchases(t, 5, 38.0, 39.0)[()] for t in (1.0, 10.0, 52.0)]
    assert expected[0] < expected[1] < expected[2]  # more purchases the longer one waits
    assert model.alive_probability(0, 0.0, 39.0)[()] == 1.0  # never bought again: not seen to go
    assert model.alive_probability(5, 10.0, 39.0)[()] < 1.0
    nothing = discounted_value(model, spend, summary, 52, 0.002, margin=0.0)
    assert (nothing == 0).all()

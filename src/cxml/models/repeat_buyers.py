"""What a repeat buyer is worth: BG/NBD for how many more purchases, Gamma-Gamma for their value.

The customer-base models of Fader, Hardie & Lee (2005): a buyer purchases at a Poisson rate
until, after any purchase, they drop out for good; rates and drop-out chances vary across
customers (gamma and beta mixing), and so does the average spend (Gamma-Gamma). Fitted by
maximum likelihood on each customer's frequency, recency and age. Written here on SciPy: the
`lifetimes` package that carried them has been archived since 2020.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

__all__ = [
    "BGNBD",
    "GammaGamma",
    "discounted_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "rfm_summary",
]


def rfm_summary(
    customer_ids: np.ndarray | pd.Series,
    times: pd.Series | pd.DatetimeIndex,
    amounts: np.ndarray | pd.Series,
    cutoff: pd.Timestamp,
    period_days: float = 7.0,
) -> pd.DataFrame:
    """Per customer, from the purchases strictly before `cutoff`: `frequency` (purchase days
    after the first), `recency` (first to last purchase day) and `T` (first purchase day to
    the cutoff), both in periods, and `monetary_value` (the mean spend of the repeat purchase
    days; 0 without one). A day is the unit: the models count purchase occasions."""
    frame = pd.DataFrame(
        {
            "customer_id": np.asarray(customer_ids).astype(str),
            "day": pd.DatetimeIndex(times).floor("D"),
            "amount": np.asarray(amounts, dtype=float),
        }
    )
    frame = frame[frame["day"] < cutoff]
    days = frame.groupby(["customer_id", "day"], sort=True)["amount"].sum().reset_index()
    first = days.groupby("customer_id")["day"].transform("min")
    repeat = days[days["day"] > first]
    grouped = days.groupby("customer_id")
    unit = pd.Timedelta(days=period_days)
    out = pd.DataFrame(
        {
            "frequency": grouped.size() - 1,
            "recency": (grouped["day"].max() - grouped["day"].min()) / unit,
            "T": (cutoff.floor("D") - grouped["day"].min()) / unit,
        }
    )
    out["monetary_value"] = repeat.groupby("customer_id")["amount"].mean().reindex(out.index)
    out["monetary_value"] = out["monetary_value"].fillna(0.0)
    out.index.name = "customer_id"
    return out


def _arrays(*values: object) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in values]


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD: purchase rates ~ Gamma(r, alpha), drop-out chances ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def _odds_gone(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """The odds that a buyer with a repeat purchase has dropped out since it (0 without)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        has = x > 0
        ratio = (alpha + T) / (alpha + t_x)
        odds = a / np.where(has, b + x - 1, 1.0) * np.power(ratio, r + x)
        return np.where(has, odds, 0.0)

    def alive_probability(self, frequency: object, recency: object, T: object) -> np.ndarray:
        x, t_x, age = _arrays(frequency, recency, T)
        return 1.0 / (1.0 + self._odds_gone(x, t_x, age))

    def expected_purchases(
        self, t: float, frequency: object, recency: object, T: object
    ) -> np.ndarray:
        """Expected purchases in the next `t` periods, given the history (their eq. 10)."""
        x, t_x, age = _arrays(frequency, recency, T)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if t <= 0:
            return np.zeros_like(x)
        z = t / (alpha + age + t)
        tail = np.power((alpha + age) / (alpha + age + t), r + x)
        lead = (a + b + x - 1) / (a - 1)
        expected = lead * (1.0 - tail * hyp2f1(r + x, b + x, a + b + x - 1, z))
        return np.maximum(expected / (1.0 + self._odds_gone(x, t_x, age)), 0.0)


def _bgnbd_loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> float:
    r, alpha, a, b = np.exp(params)
    part1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    part2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    stay = -(r + x) * np.log(alpha + T)
    has = x > 0
    gone = np.log(a) - np.log(np.where(has, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x)
    last = np.where(has, np.logaddexp(stay, gone), stay)
    return float(np.sum(part1 + part2 + last))


def fit_bgnbd(frequency: object, recency: object, T: object) -> BGNBD:
    """Maximum likelihood, on log-parameters so they stay positive."""
    x, t_x, age = _arrays(frequency, recency, T)
    found = minimize(
        lambda p: -_bgnbd_loglik(p, x, t_x, age) / len(x),
        x0=np.zeros(4),
        method="L-BFGS-B",
    )
    if not found.success:
        raise RuntimeError(f"BG/NBD did not converge: {found.message}")
    return BGNBD(*(float(v) for v in np.exp(found.x)))


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma: each buyer's mean spend, given their purchases' average."""

    p: float
    q: float
    v: float

    def expected_value(self, frequency: object, monetary_value: object) -> np.ndarray:
        """Expected spend per purchase: the population's mean without a repeat purchase, and
        the buyer's own average pulled toward it by how few purchases it rests on."""
        x, m = _arrays(frequency, monetary_value)
        p, q, v = self.p, self.q, self.v
        return np.where(x > 0, p * (v + x * m) / (p * x + q - 1), p * v / (q - 1))


def fit_gamma_gamma(frequency: object, monetary_value: object) -> GammaGamma:
    """Maximum likelihood on the buyers with a repeat purchase and a positive average."""
    x, m = _arrays(frequency, monetary_value)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]

    def loglik(params: np.ndarray) -> float:
        p, q, v = np.exp(params)
        px = p * x
        value = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(x * m + v)
        )
        return float(np.sum(value))

    found = minimize(
        lambda p: -loglik(p) / len(x),
        x0=np.log([1.0, 1.0, max(float(np.mean(m)), 1.0)]),
        method="L-BFGS-B",
    )
    if not found.success:
        raise RuntimeError(f"Gamma-Gamma did not converge: {found.message}")
    return GammaGamma(*(float(v) for v in np.exp(found.x)))


def discounted_value(
    bgnbd: BGNBD,
    gamma_gamma: GammaGamma,
    summary: pd.DataFrame,
    periods: int,
    discount_per_period: float,
    margin: float,
) -> np.ndarray:
    """Expected margin over the next `periods`, each period's purchases × the expected spend
    per purchase × margin, discounted to now. Never negative (margin 0: worth nothing)."""
    columns = summary["frequency"], summary["recency"], summary["T"]
    cumulative = np.column_stack(
        [bgnbd.expected_purchases(float(k), *columns) for k in range(periods + 1)]
    )
    per_period = np.diff(cumulative, axis=1).clip(min=0.0)
    discount = (1.0 + discount_per_period) ** -np.arange(1, periods + 1)
    spend = gamma_gamma.expected_value(summary["frequency"], summary["monetary_value"])
    return np.maximum(per_period @ discount * spend * margin, 0.0)

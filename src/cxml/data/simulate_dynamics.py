"""The simulator's model of a customer: traits, weekly dynamics, action effects, and truth.

See `cxml.data.simulate` for the story; this module holds the equations, shared by the
realised run and the truth replicates so both follow exactly the same process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

WEEK = pd.Timedelta(days=7)
ACTIONS: dict[str, tuple[str, float]] = {  # name -> (channel, cost per contact)
    "discount": ("email", 30.0),
    "support_callback": ("call_centre", 15.0),
    "loyalty_upgrade": ("app", 60.0),
    "education_email": ("email", 1.0),
}
EFFECT_WEEKS = 13
CAMPAIGN_EVERY = 4
SURVEY_GAP_WEEKS = 13
SURVEY_RATE = 0.07
NPS_BASE, NPS_SLOPE, NPS_NOISE = 6.6, 2.2, 1.1
SAT_DROP_MARGIN = 2


@dataclass
class Population:
    """Static traits (one array per trait, one entry per customer)."""

    mu: np.ndarray  # long-run satisfaction
    price_sensitivity: np.ndarray
    ticket_rate: np.ndarray
    resolve_prob: np.ndarray
    login_rate: np.ndarray
    monthly_charge: np.ndarray
    monthly_contract: np.ndarray
    tenure_at_start: np.ndarray  # years
    signup_week: np.ndarray  # weeks since start; negative for customers who joined before
    app_user: np.ndarray


@dataclass
class State:
    """What changes week by week; copied and tiled for the truth replicates."""

    s: np.ndarray
    open_issues: np.ndarray
    shift: np.ndarray  # hazard logit reduction from an active action
    shift_weeks: np.ndarray
    engagement_boost: np.ndarray

    def tile(self, idx: np.ndarray) -> State:
        return State(*(getattr(self, f)[idx].copy() for f in self.__dataclass_fields__))


def make_population(n: int, rng: np.random.Generator) -> tuple[Population, pd.DataFrame]:
    segment = rng.choice(["consumer", "small_business", "premium"], n, p=[0.65, 0.2, 0.15])
    plan = np.where(
        segment == "premium", "premium", rng.choice(["basic", "standard"], n, p=[0.55, 0.45])
    )
    base_charge = pd.Series(plan).map({"basic": 20.0, "standard": 45.0, "premium": 85.0})
    charge = np.round(base_charge.to_numpy() * rng.uniform(0.85, 1.15, n), 2)
    monthly = rng.random(n) < np.where(segment == "small_business", 0.45, 0.65)
    age = rng.integers(18, 85, n)
    ps_logit = 0.9 * (plan == "basic") - 0.9 * (segment == "premium") - 0.02 * (age - 45)
    price_sensitivity = expit(ps_logit + rng.normal(0, 0.8, n))
    region = rng.choice(["north", "south", "east", "west"], n)
    region_tickets = pd.Series(region).map({"north": 1.0, "south": 1.5, "east": 0.8, "west": 1.1})
    ticket_rate = 0.035 * region_tickets.to_numpy() * rng.lognormal(0, 0.6, n)
    joined_before = rng.random(n) < 0.6
    tenure = np.where(joined_before, rng.exponential(2.0, n), 0.0)
    pop = Population(
        mu=rng.normal(0.35, 0.55, n) + 0.2 * (segment == "premium"),
        price_sensitivity=price_sensitivity,
        ticket_rate=ticket_rate,
        resolve_prob=rng.beta(6, 1.6, n),
        login_rate=rng.lognormal(-0.9, 0.7, n),
        monthly_charge=charge,
        monthly_contract=monthly,
        tenure_at_start=tenure,
        signup_week=np.where(joined_before, -np.ceil(tenure * 52.18), rng.integers(0, 78, n)),
        app_user=rng.random(n) < 0.6,
    )
    attrs = pd.DataFrame(
        {
            "segment": segment,
            "plan": plan,
            "contract": np.where(monthly, "monthly", "annual"),
            "monthly_charge": charge,
            "region": region,
            "age": age,
            "payment_method": rng.choice(
                ["card", "direct_debit", "invoice"], n, p=[0.5, 0.35, 0.15]
            ),
        }
    )
    return pop, attrs


def initial_state(pop: Population, rng: np.random.Generator) -> State:
    n = len(pop.mu)
    return State(pop.mu + rng.normal(0, 0.3, n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))


def step_state(st: State, pop: Population, idx: np.ndarray, rng: np.random.Generator):
    """Advance one week; returns the week's draws that shape the latent state."""
    n = len(idx)
    tickets = rng.poisson(pop.ticket_rate[idx] * (1 + 0.4 * (st.s < -0.5)))
    unresolved = rng.binomial(tickets, 1 - pop.resolve_prob[idx])
    payfail = rng.poisson(0.004 + 0.03 * pop.price_sensitivity[idx], n)
    st.s = (
        pop.mu[idx]
        + 0.92 * (st.s - pop.mu[idx])
        - 0.2 * tickets
        - 0.45 * unresolved
        - 0.09 * st.open_issues
        - 0.25 * payfail
        + 0.08 * st.engagement_boost
        + rng.normal(0, 0.1, n)
    )
    st.open_issues = 0.9 * st.open_issues + unresolved
    st.shift_weeks = np.maximum(st.shift_weeks - 1, 0)
    st.shift = np.where(st.shift_weeks > 0, st.shift, 0.0)
    st.engagement_boost = 0.9 * st.engagement_boost
    return tickets, unresolved, payfail


def weekly_hazard(st: State, pop: Population, idx: np.ndarray, tenure: np.ndarray):
    logit = (
        -5.6
        - 1.8 * st.s
        + 1.2 * pop.monthly_contract[idx]
        - 0.3 * np.log1p(tenure)
        + 0.7 * pop.price_sensitivity[idx] * (pop.monthly_charge[idx] > 40)
        - st.shift
    )
    return expit(logit)


def apply_action(st: State, pop: Population, idx: np.ndarray, action: np.ndarray) -> None:
    """Effects of an action taken now (array of action names, '' for none)."""
    discount = action == "discount"
    st.shift[discount] = 1.8 * pop.price_sensitivity[idx][discount]
    st.shift_weeks[discount] = EFFECT_WEEKS
    callback = action == "support_callback"
    st.s[callback] += 0.35 * np.minimum(st.open_issues[callback], 3)
    st.open_issues[callback] *= 0.1
    upgrade = action == "loyalty_upgrade"
    st.shift[upgrade] = 0.45
    st.shift_weeks[upgrade] = EFFECT_WEEKS
    email = action == "education_email"
    low_use = pop.login_rate[idx] < 0.3
    st.engagement_boost[email & low_use] += 4.0
    st.engagement_boost[email & ~low_use] -= 0.3  # frequent users find it a nuisance


def tenure_years(pop: Population, idx: np.ndarray, week: int) -> np.ndarray:
    return np.maximum(week - pop.signup_week[idx], 0) / 52.18


def simulate_truth(
    st: State,
    pop: Population,
    idx: np.ndarray,
    week: int,
    last_nps: np.ndarray,
    weeks_since_nps: np.ndarray,
    horizon_weeks: int,
    replicates: int,
    seed: int,
    value_weeks: int = 0,
) -> dict[str, np.ndarray]:
    """P(cancel within the horizon) per action, and P(satisfaction drop | surveyed) per action;
    with `value_weeks`, also the revenue each action brings over that many weeks (revenue_*).

    The drop probability weighs each week of the horizon by the chance that the customer is
    still there and answers the (at most one, by the survey gap) NPS survey that week. The
    revenue is the weekly share of the monthly charge for each week the customer is still one
    at its end: what keeping a customer is truly worth, an action's effect wearing off included.
    """
    reps = np.repeat(np.arange(len(idx)), replicates)
    out: dict[str, np.ndarray] = {}
    for action in ["none", *ACTIONS]:
        rng = np.random.default_rng([seed, 7])  # common random numbers across actions
        sim = st.tile(idx[reps])
        apply_action(sim, pop, idx[reps], np.full(len(reps), action))
        log_surv = np.zeros(len(reps))
        drop_num = np.zeros(len(reps))
        drop_den = np.zeros(len(reps))
        weeks_paid = np.zeros(len(reps))
        threshold = _drop_threshold(last_nps[reps])
        eligible_from = np.maximum(SURVEY_GAP_WEEKS - weeks_since_nps[reps], 0)
        for k in range(max(horizon_weeks, value_weeks)):
            step_state(sim, pop, idx[reps], rng)
            h = weekly_hazard(sim, pop, idx[reps], tenure_years(pop, idx[reps], week + k))
            if k >= horizon_weeks:  # past the horizon only the revenue is followed
                log_surv += np.log1p(-h)
                weeks_paid += np.exp(log_surv)
                continue
            alive = np.exp(log_surv)  # survey happens this week only if still a customer
            w = alive * np.where(
                k >= eligible_from, SURVEY_RATE * (1 - SURVEY_RATE) ** (k - eligible_from), 0.0
            )
            p_low = norm.cdf((threshold + 0.5 - NPS_BASE - NPS_SLOPE * sim.s) / NPS_NOISE)
            drop_num += w * p_low
            drop_den += w
            log_surv += np.log1p(-h)
            weeks_paid += np.exp(log_surv) if k < value_weeks else 0.0
            if k == horizon_weeks - 1:
                out[action] = 1 - np.exp(log_surv).reshape(len(idx), -1).mean(axis=1)
        if value_weeks:
            weekly = pop.monthly_charge[idx] * 12 / 52
            out[f"revenue_{action}"] = weekly * weeks_paid.reshape(len(idx), -1).mean(axis=1)
        num = drop_num.reshape(len(idx), -1).sum(axis=1)
        den = drop_den.reshape(len(idx), -1).sum(axis=1)
        out[f"drop_{action}"] = np.where(np.isnan(last_nps), np.nan, num / np.maximum(den, 1e-12))
    return out


def _drop_threshold(prev: np.ndarray) -> np.ndarray:
    """Highest new NPS that counts as a drop: `margin` points lower, or a band lower."""
    band = np.where(prev >= 9, 8.0, np.where(prev >= 7, 6.0, -np.inf))
    return np.maximum(prev - SAT_DROP_MARGIN, band)

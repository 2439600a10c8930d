"""A customer-journey simulator whose truth is known: the test bed for every model and policy.

Each customer has a latent satisfaction `s` that moves week by week. Service failures (support
tickets, especially unresolved ones, and payment failures) pull it down; it shows in surveys, in
free-text comments and in falling usage, and a low `s` raises the weekly hazard of cancelling.
A logged retention policy treats customers partly at random every four weeks and records each
action's propensity. Action effects are heterogeneous and known:

* ``discount`` lowers the hazard in proportion to price sensitivity (useless for the rest);
* ``support_callback`` fixes open unresolved tickets (useless without any);
* ``loyalty_upgrade`` lowers everyone's hazard a little, at a cost that rarely pays;
* ``education_email`` lifts satisfaction of customers who barely use the product, almost free.

At the evaluation cutoff, `simulate_truth` estimates, for every active customer and action,
P(cancel within the horizon) by re-running the same weekly dynamics many times from the same
state (Rao–Blackwellised: the average survival product over simulated state paths, with common
random numbers across actions). The realised future is one more independent draw of the same
process, so outcomes are consistent with the stated probabilities. The logged policy's last
campaign is the one at the evaluation cutoff: none runs inside the horizon, so the truth is exact.

Customer value (``customer_value`` in truth) = 12 × monthly charge: the revenue a retained
customer brings over the next year, the amount at stake when they cancel. With `value_weeks`,
the truth also follows each action's revenue that far (``revenue_<action>``): a save whose
customer leaves soon after is worth less than the fixed rule says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cxml.data import simulate_text as text
from cxml.data.simulate_dynamics import (
    ACTIONS,
    CAMPAIGN_EVERY,
    NPS_BASE,
    NPS_NOISE,
    NPS_SLOPE,
    SURVEY_GAP_WEEKS,
    SURVEY_RATE,
    WEEK,
    State,
    apply_action,
    initial_state,
    make_population,
    simulate_truth,
    step_state,
    tenure_years,
    weekly_hazard,
)
from cxml.data.simulate_events import CHANNEL_CODE, EventRecorder, pick_channel, times_in_week

__all__ = ["ACTIONS", "SimConfig", "Simulation", "simulate"]


@dataclass(frozen=True)
class SimConfig:
    customers: int = 20_000
    seed: int = 0
    start: str = "2024-01-01"
    history_weeks: int = 78  # the evaluation cutoff is start + history_weeks weeks
    horizon_weeks: int = 13  # truth horizon: 91 days
    truth_replicates: int = 32
    #: Weeks over which the truth also follows each action's revenue (revenue_* columns): what
    #: keeping a customer is truly worth; 0 (the default) leaves it out.
    value_weeks: int = 0

    @property
    def cutoff(self) -> pd.Timestamp:
        return pd.Timestamp(self.start, tz="UTC") + self.history_weeks * WEEK


@dataclass
class Simulation:
    customers: pd.DataFrame
    events: pd.DataFrame
    actions: pd.DataFrame
    truth: pd.DataFrame
    config: SimConfig = field(default_factory=SimConfig)


class _Journeys:
    """The week-by-week run: state, observable trackers, the logged policy and the recorder.
    `decisions`: per campaign week, a decisions table (customer_id, action, propensity) that
    replaces the logged policy's campaign that week: another policy's choices, acted out."""

    def __init__(self, cfg: SimConfig, decisions: Mapping[int, pd.DataFrame] | None = None):
        self.cfg = cfg
        self.decisions = dict(decisions or {})
        self.rng = np.random.default_rng(cfg.seed)
        self.pop, self.attrs = make_population(cfg.customers, self.rng)
        self.state = initial_state(self.pop, self.rng)
        n = cfg.customers
        self.cancelled = np.zeros(n, dtype=bool)
        self.last_nps = np.full(n, np.nan)
        self.last_nps_week = np.full(n, -10_000)
        self.last_trouble_week = np.full(n, -10_000)  # complaint or unresolved ticket
        self.last_action_week = np.full(n, -10_000)
        self.events = EventRecorder()
        self.action_parts: list[tuple[np.ndarray, ...]] = []
        self.truth: pd.DataFrame | None = None
        self.start_ns = pd.Timestamp(cfg.start, tz="UTC").value

    def run(self) -> None:
        for week in range(self.cfg.history_weeks + self.cfg.horizon_weeks):
            idx = np.flatnonzero((self.pop.signup_week <= week) & ~self.cancelled)
            if (
                week <= self.cfg.history_weeks
                and (self.cfg.history_weeks - week) % CAMPAIGN_EVERY == 0
            ):
                self._campaign(week, idx)
            self._week(week, idx)

    def _policy(self, week: int, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The logged policy: treat the visibly troubled more often, pick the action at random."""
        risk = (
            0.1
            + 0.35 * (self.last_nps[idx] <= 6)
            + 0.45 * (week - self.last_trouble_week[idx] <= 8)
        )
        treat_p = np.where(week - self.last_action_week[idx] < 8, 0.0, 0.05 + 0.4 * risk)
        treated = self.rng.random(len(idx)) < treat_p
        names = np.asarray(list(ACTIONS), dtype=object)
        action = np.where(treated, names[self.rng.integers(0, len(names), len(idx))], "none")
        return action.astype(str), treat_p / len(names)

    def _campaign(self, week: int, idx: np.ndarray) -> None:
        action, propensity = self._policy(week, idx)  # drawn always: the same random stream
        logged = action != "none"  # the rows the actions log keeps
        if week in self.decisions:
            action, propensity = _decided(self.decisions[week], idx)
            logged = np.ones(len(idx), dtype=bool)  # every row: its propensity says how it was
        if week == self.cfg.history_weeks:
            self.truth = self._truth(week, idx, action, propensity)
        treated = action != "none"
        when = self.start_ns + week * WEEK.value
        self.action_parts.append(
            (idx[logged], np.full(logged.sum(), when), action[logged], propensity[logged])
        )
        self.last_action_week[idx[treated]] = week
        sub = self.state.tile(idx)
        apply_action(sub, self.pop, idx, np.where(treated, action, ""))
        self._scatter(sub, idx)

    def _scatter(self, sub: State, idx: np.ndarray) -> None:
        for name in State.__dataclass_fields__:
            getattr(self.state, name)[idx] = getattr(sub, name)

    def _truth(
        self, week: int, idx: np.ndarray, logged: np.ndarray, propensity: np.ndarray
    ) -> pd.DataFrame:
        p = simulate_truth(
            self.state,
            self.pop,
            idx,
            week,
            self.last_nps[idx],
            week - self.last_nps_week[idx],
            self.cfg.horizon_weeks,
            self.cfg.truth_replicates,
            self.cfg.seed,
            self.cfg.value_weeks,
        )
        frame = pd.DataFrame(
            {
                "customer_id": idx,
                "cutoff": self.cfg.cutoff,
                "horizon_days": self.cfg.horizon_weeks * 7,
                "customer_value": 12 * self.pop.monthly_charge[idx],
            }
        )
        for action in ["none", *ACTIONS]:
            frame[f"p_churn_{action}"] = p[action]
            if self.cfg.value_weeks:
                frame[f"revenue_{action}"] = p[f"revenue_{action}"]
        observed = np.select([logged == a for a in ACTIONS], [p[a] for a in ACTIONS], p["none"])
        frame["p_churn_observed"] = observed
        frame["logged_action"] = logged
        # P(the logged decision | state), "none" included: what off-policy estimates need
        frame["logged_propensity"] = np.where(
            logged == "none", 1 - len(ACTIONS) * propensity, propensity
        )
        drop = np.select(
            [logged == a for a in ACTIONS], [p[f"drop_{a}"] for a in ACTIONS], p["drop_none"]
        )
        frame["p_satisfaction_drop"] = drop
        return frame

    def _week(self, week: int, idx: np.ndarray) -> None:
        sub = self.state.tile(idx)
        tickets, unresolved, payfail = step_state(sub, self.pop, idx, self.rng)
        hazard = weekly_hazard(sub, self.pop, idx, tenure_years(self.pop, idx, week))
        self._scatter(sub, idx)
        week_ns = self.start_ns + week * WEEK.value
        churn = self.rng.random(len(idx)) < hazard
        cancel_ns = np.full(len(idx), np.iinfo(np.int64).max)
        once = np.ones(churn.sum(), dtype=int)
        _, cancel_ns[churn] = times_in_week(self.rng, week_ns, once, idx[churn])
        self.cancelled[idx[churn]] = True
        rec = EventRecorder()
        self._usage(rec, week, week_ns, idx, sub)
        self._service(rec, week, week_ns, idx, sub, tickets, unresolved, payfail)
        self._surveys(rec, week, week_ns, idx, sub)
        rec.add(
            idx[churn],
            cancel_ns[churn],
            "cancel",
            pick_channel(self.rng, int(churn.sum()), ["call_centre", "web"], [0.6, 0.4]),
        )
        self._keep_before_cancel(rec, idx, cancel_ns)

    def _keep_before_cancel(self, rec: EventRecorder, idx: np.ndarray, cancel_ns: np.ndarray):
        """Nothing happens after a customer cancels (the cancel event itself is kept)."""
        limit = np.full(self.cfg.customers, np.iinfo(np.int64).max)
        limit[idx] = cancel_ns
        for part in rec.parts:
            keep = part[1] <= limit[part[0]]
            self.events.parts.append(tuple(col[keep] for col in part))

    def _usage(self, rec: EventRecorder, week: int, week_ns: int, idx: np.ndarray, sub: State):
        pop, rng = self.pop, self.rng
        logins = rng.poisson(pop.login_rate[idx] * np.exp(0.5 * np.minimum(sub.s, 2.0)))
        cust, t = times_in_week(rng, week_ns, logins, idx)
        app = np.where(rng.random(len(cust)) < 0.8, pop.app_user[cust], ~pop.app_user[cust])
        rec.add(cust, t, "login", np.where(app, CHANNEL_CODE["app"], CHANNEL_CODE["web"]))
        billed = idx[(week - pop.signup_week[idx]) % 4 == 0]
        cust, t = times_in_week(rng, week_ns, np.ones(len(billed), dtype=int), billed)
        rec.add(cust, t, "purchase", CHANNEL_CODE["web"], pop.monthly_charge[cust])
        extra = rng.poisson(0.03 * np.exp(0.4 * np.minimum(sub.s, 2.0)))
        cust, t = times_in_week(rng, week_ns, extra, idx)
        rec.add(
            cust,
            t,
            "purchase",
            pick_channel(rng, len(cust), ["store", "web", "app"], [0.4, 0.3, 0.3]),
            np.round(rng.lognormal(3.0, 0.6, len(cust)), 2),
        )

    def _service(
        self,
        rec: EventRecorder,
        week: int,
        week_ns: int,
        idx: np.ndarray,
        sub: State,
        tickets: np.ndarray,
        unresolved: np.ndarray,
        payfail: np.ndarray,
    ) -> None:
        rng = self.rng
        cust, t = times_in_week(rng, week_ns, tickets, idx)
        first = np.r_[0, np.cumsum(tickets)[:-1]]  # the first `unresolved` of each are open
        rank = np.arange(len(cust)) - np.repeat(first, tickets)
        is_open = rank < np.repeat(unresolved, tickets)
        slow = 1 + 2 * (1 - self.pop.resolve_prob[cust])
        hours = np.round(rng.lognormal(np.log(18), 0.9, len(cust)) * slow, 1)
        channel = pick_channel(rng, len(cust), ["call_centre", "chat", "email"], [0.5, 0.3, 0.2])
        rec.add(cust, t, "support_ticket", channel, np.where(is_open, np.nan, hours))
        answered = ~is_open & (rng.random(len(cust)) < 0.3)
        s_now = sub.s[np.searchsorted(idx, cust[answered])]
        csat = np.clip(
            np.round(
                3.3
                + 0.8 * s_now
                - 0.8 * (hours[answered] > 48)
                + rng.normal(0, 0.7, answered.sum())
            ),
            1,
            5,
        )
        rec.add(
            cust[answered],
            t[answered] + (hours[answered] * 3600).astype(np.int64) * 1_000_000_000,
            "survey_csat",
            CHANNEL_CODE["email"],
            csat,
        )
        complaints = rng.poisson(
            0.004 + 0.05 * np.minimum(sub.open_issues, 3) + 0.02 * np.maximum(-sub.s, 0)
        )
        cust_c, t_c = times_in_week(rng, week_ns, complaints, idx)
        rec.add(
            cust_c,
            t_c,
            "complaint",
            pick_channel(rng, len(cust_c), ["call_centre", "social", "store"], [0.5, 0.3, 0.2]),
        )
        cust_p, t_p = times_in_week(rng, week_ns, payfail, idx)
        rec.add(cust_p, t_p, "payment_failed", CHANNEL_CODE["web"])
        self.last_trouble_week[idx[(complaints > 0) | (unresolved > 0)]] = week

    def _surveys(self, rec: EventRecorder, week: int, week_ns: int, idx: np.ndarray, sub: State):
        rng = self.rng
        eligible = week - self.last_nps_week[idx] >= SURVEY_GAP_WEEKS
        asked = eligible & (rng.random(len(idx)) < SURVEY_RATE)
        who = idx[asked]
        score = (
            np.clip(
                np.round(NPS_BASE + NPS_SLOPE * sub.s[asked] + rng.normal(0, NPS_NOISE, len(who))),
                0,
                10,
            )
            + 0.0
        )
        _, t = times_in_week(rng, week_ns, np.ones(len(who), dtype=int), who)
        comment = text.comments(score, sub.open_issues[asked], self.pop.price_sensitivity[who], rng)
        rec.add(who, t, "survey_nps", CHANNEL_CODE["email"], score, comment)
        self.last_nps[who] = score
        self.last_nps_week[who] = week

    def customers_frame(self, ids: np.ndarray) -> pd.DataFrame:
        """Drawn apart from the weeks' stream, so a world continued longer (or under other
        decisions) keeps the same customers."""
        n = self.cfg.customers
        rng = np.random.default_rng([self.cfg.seed, n])
        offset = (rng.random(n) * WEEK.total_seconds()).astype(np.int64) * 1_000_000_000
        signup_ns = self.start_ns + (self.pop.signup_week * WEEK.value + offset).astype(np.int64)
        first = np.asarray(["Alex", "Sam", "Kim", "Jo", "Lee", "Max", "Ana", "Ravi", "Mia", "Tom"])
        last = np.asarray(["Smith", "Jones", "Patel", "Khan", "Brown", "Garcia", "Novak", "Lee"])
        name = np.char.add(
            np.char.add(first[rng.integers(0, 10, n)], " "), last[rng.integers(0, 8, n)]
        )
        frame = pd.DataFrame(
            {
                "customer_id": ids,
                "signup_time": pd.to_datetime(signup_ns, utc=True).astype("datetime64[ns, UTC]"),
                "name": name,  # PII on purpose: it must never reach a model, a log or an output
                "email": np.char.add(np.char.lower(ids.astype(str)), "@example.com"),
            }
        )
        return pd.concat([frame, self.attrs], axis=1)

    def actions_frame(self, ids: np.ndarray) -> pd.DataFrame:
        cust, when, action, propensity = (
            np.concatenate(c) for c in zip(*self.action_parts, strict=True)
        )
        channel = [ACTIONS[a][0] if a in ACTIONS else None for a in action]
        cost = [ACTIONS[a][1] if a in ACTIONS else 0.0 for a in action]
        return (
            pd.DataFrame(
                {
                    "customer_id": ids[cust],
                    "action_time": pd.to_datetime(when, utc=True).astype("datetime64[ns, UTC]"),
                    "action": action.astype(object),
                    "channel": channel,
                    "cost": cost,
                    "propensity": propensity,
                }
            )
            .sort_values(["customer_id", "action_time"], kind="stable")
            .reset_index(drop=True)
        )


def _decided(table: pd.DataFrame, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The action and propensity a decisions table gives each active customer `idx`; one it
    does not name gets no action, for certain."""
    ids = table["customer_id"].astype(str).str.removeprefix("C").astype(int).to_numpy()
    action = np.full(len(idx), "none", dtype=object)
    propensity = np.ones(len(idx))
    where = pd.Index(ids).get_indexer(idx)
    known = where >= 0
    action[known] = table["action"].to_numpy(dtype=object)[where[known]]
    propensity[known] = table["propensity"].to_numpy(dtype=float)[where[known]]
    unknown = sorted(set(action) - {"none", *ACTIONS})
    if unknown:
        raise ValueError(f"decisions: action(s) {unknown} are not the simulator's {list(ACTIONS)}")
    return action.astype(str), propensity


def customer_ids(n: int) -> np.ndarray:
    return np.asarray([f"C{i:07d}" for i in range(n)], dtype=object)


def simulate(cfg: SimConfig, decisions: Mapping[int, pd.DataFrame] | None = None) -> Simulation:
    """Run the simulator; the same config (and seed) gives the same tables, bit for bit.
    `decisions`: per campaign week (weeks since the start, e.g. an earlier run's evaluation
    cutoff), the decisions a policy took then, acted out instead of the logged policy's, so a
    world continues under them (see `cxml simulate --continue`)."""
    for week in decisions or {}:
        if week >= cfg.history_weeks or (cfg.history_weeks - week) % CAMPAIGN_EVERY:
            raise ValueError(
                f"decisions at week {week}: not a campaign week before this run's evaluation "
                f"cutoff (every {CAMPAIGN_EVERY} weeks back from week {cfg.history_weeks})"
            )
    journeys = _Journeys(cfg, decisions)
    journeys.run()
    ids = customer_ids(cfg.customers)
    truth = journeys.truth
    assert truth is not None  # the evaluation cutoff is always a campaign week
    truth["customer_id"] = ids[truth["customer_id"].to_numpy()]
    return Simulation(
        customers=journeys.customers_frame(ids),
        events=journeys.events.frame(ids),
        actions=journeys.actions_frame(ids),
        truth=truth.reset_index(drop=True),
        config=cfg,
    )

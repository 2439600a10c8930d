"""When a customer will churn: a discrete-time hazard model over person-periods.

Each labelled row (features at a cutoff, days to churn, whether the churn was seen) becomes one
row per period it was at risk in, the label saying whether it churned in that period; one
LightGBM classifier learns the hazard from the features and the period's number. A row is at
risk in a period only if it was watched to that period's end or churned in it, so a censored
customer adds no event and no period it was not seen through. The survival curve is the
product of one minus the hazards: monotone by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.special import expit

from cxml.config import ModelConfig
from cxml.models.flat_trees import tree_probabilities, tree_raw_scores
from cxml.models.train import boost_held_out, lightgbm_params

__all__ = [
    "MONTH_DAYS",
    "Grid",
    "HazardModel",
    "kept_value",
    "monthly_value",
    "person_periods",
    "restricted_mean",
    "sample_rows",
    "survival_at",
    "tenure_columns",
]


MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True)
class Grid:
    """The periods the hazard is learned on: `n` periods of `days` each, from the cutoff (by
    default weeks, to a year: a month's periods cannot order the churns within one)."""

    days: float = 7.0
    n: int = 53

    @property
    def ends(self) -> np.ndarray:
        return self.days * np.arange(1, self.n + 1)


def person_periods(
    duration: np.ndarray, event: np.ndarray, grid: Grid
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, period, churned) for every period each row was at risk in: the periods it was
    watched through, and the one it churned in."""
    duration = np.asarray(duration, dtype=float)
    event = np.asarray(event, dtype=bool)
    churn_period = np.floor(duration / grid.days).astype(np.int64)  # the period it falls in
    watched = np.minimum(churn_period, grid.n)  # censored: the whole periods seen
    count = np.where(event & (churn_period < grid.n), churn_period + 1, watched)
    rows = np.repeat(np.arange(len(duration)), count)
    starts = np.cumsum(count) - count
    period = np.arange(int(count.sum())) - np.repeat(starts, count)
    churned = event[rows] & (period == churn_period[rows])
    return rows, period, churned.astype(float)


def _with_period(matrix: np.ndarray, rows: np.ndarray, period: np.ndarray) -> np.ndarray:
    return np.column_stack([np.asarray(matrix, dtype=float)[rows], period.astype(float)])


#: The most bins the trees may cut the period's number into: the hazard's time steps are
#: the data's (weekly rows, exact censoring), but scoring then predicts each customer at most
#: this many times, not once per period.
TIME_BINS = 12
#: Up to this many rows x periods, the periods are stacked into one predict call (a request's
#: rows); beyond, one call per period, so a whole base is never copied once per period.
STACKED_ROWS = 4096
CURVE_BLOCK = 65_536  # rows per step of the arithmetic on survival curves (`row_blocks`)
#: A period whose survival ratio is this close to 1 has no hazard to speak of: its area is the
#: period itself (np.isclose's default tolerances at 1).
FLAT = 1e-8 + 1e-5
#: A hazard model's trees that never split on time, and those that do (None: no such tree).
TreesApart = tuple[lgb.Booster | None, lgb.Booster | None]


def _period_classes(booster: lgb.Booster, rounds: int, n: int) -> np.ndarray:
    """Per period, the first period the trees cannot tell it from: they split the period's
    number at a few thresholds, and periods between the same two predict the same hazard."""
    trees = booster.trees_to_dataframe()
    period = booster.feature_name()[-1]
    used = trees[(trees["tree_index"] < rounds) & (trees["split_feature"] == period)]
    cuts = np.unique(used["threshold"].to_numpy(dtype=float))
    side = np.searchsorted(cuts, np.arange(n), side="left")  # go left when period <= cut
    first = {c: k for k, c in reversed(list(enumerate(side)))}
    return np.array([first[c] for c in side], dtype=np.int64)


def _trees_apart(booster: lgb.Booster, rounds: int) -> TreesApart:
    """The first `rounds` trees as two boosters: those that never split on the period's number
    (the last feature), whose sum is the same for every period, and those that do (None: no
    such tree). A model's score is the sum of its trees' outputs, so the two raw scores add
    up to the whole model's, to the last bits of a float."""
    text = booster.model_to_string(num_iteration=rounds)
    start, end = text.index("Tree=0\n"), text.index("end of trees")
    # the trees' byte sizes let LightGBM parse them in parallel; without them it reads in order
    head = re.sub(r"^tree_sizes=.*\n", "", text[:start], flags=re.M)
    trees = re.split(r"^Tree=\d+\n", text[start:end], flags=re.M)[1:]
    period = str(booster.num_feature() - 1)

    def on_period(tree: str) -> bool:
        split = re.search(r"^split_feature=(.*)$", tree, flags=re.M)  # none: a single leaf
        return split is not None and period in split.group(1).split()

    def booster_of(kept: list[str]) -> lgb.Booster | None:
        numbered = "".join(f"Tree={i}\n{tree}" for i, tree in enumerate(kept))
        return lgb.Booster(model_str=head + numbered + text[end:]) if kept else None

    return (
        booster_of([t for t in trees if not on_period(t)]),
        booster_of([t for t in trees if on_period(t)]),
    )


def _raw(trees: lgb.Booster | None, design: np.ndarray) -> np.ndarray:
    """Per row, the sum of the trees' outputs (0 without trees)."""
    if trees is None:
        return np.zeros(len(design))
    return tree_raw_scores(trees, design)


@dataclass
class HazardModel:
    """LightGBM on person-periods; `survival` gives each row's curve at the grid's ends."""

    grid: Grid
    booster: lgb.Booster
    rounds: int
    #: per period, the period whose hazard it shares (the trees' splits on time are few)
    classes: np.ndarray

    @classmethod
    def fit(
        cls,
        matrix: np.ndarray,
        duration: np.ndarray,
        event: np.ndarray,
        stop: np.ndarray,
        config: ModelConfig | None = None,
        grid: Grid = Grid(),
    ) -> HazardModel:
        """Fit on the rows not in `stop` and stop early on the `stop` rows (a boolean mask over
        the rows: whole customers, never a share of one's periods)."""
        config = config or ModelConfig()
        rows, period, churned = person_periods(duration, event, grid)
        held = np.asarray(stop, dtype=bool)[rows]
        design = _with_period(matrix, rows, period)
        train = lgb.Dataset(design[~held], churned[~held])
        valid = train.create_valid(design[held], churned[held])
        params = lightgbm_params(config)  # LightGBM's own 255 bins for every other feature
        params["max_bin_by_feature"] = [255] * (design.shape[1] - 1) + [TIME_BINS]
        booster, rounds = boost_held_out(params, train, valid, config)
        return cls(grid, booster, rounds, _period_classes(booster, rounds, grid.n))

    def hazards(self, matrix: np.ndarray) -> np.ndarray:
        """Rows x periods: the probability of churning in each period, having lasted to it
        (once per period the trees tell apart; the rows never copied once per period, and a
        large base's copied in blocks)."""
        classes = np.unique(self.classes)
        out = np.empty((len(matrix), self.grid.n))
        if len(matrix) * len(classes) <= STACKED_ROWS:  # a request's few rows: one call
            design = np.column_stack(
                [
                    np.tile(np.asarray(matrix, dtype=float), (len(classes), 1)),
                    np.repeat(classes, len(matrix)),
                ]
            )
            stacked = tree_probabilities(self.booster, design, self.rounds)
            for k, hazard in zip(classes, stacked.reshape(len(classes), len(matrix)), strict=True):
                out[:, self.classes == k] = hazard[:, None]
            return out
        steady, timed = self.trees_apart
        for start in range(0, len(matrix), CURVE_BLOCK):  # a block's copy of the rows at a time
            rows = np.asarray(matrix[start : start + CURVE_BLOCK], dtype=float)
            design = np.column_stack([rows, np.zeros(len(rows))])
            # the trees that ignore time once; only those that split on it once per period
            base = _raw(steady, design)
            for k in classes:
                design[:, -1] = k
                hazard = expit(base + _raw(timed, design))  # as LightGBM's binary objective
                out[start : start + len(rows), self.classes == k] = hazard[:, None]
        return out

    @cached_property
    def trees_apart(self) -> TreesApart:
        """The trees that never split on time, and those that do (`_trees_apart`)."""
        return _trees_apart(self.booster, self.rounds)

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle holds: the fitted model, not the trees' split (made again when
        needed)."""
        return {k: v for k, v in self.__dict__.items() if k != "trees_apart"}

    def survival(self, matrix: np.ndarray) -> np.ndarray:
        """Rows x periods: the probability of still being a customer at each period's end."""
        return np.cumprod(1.0 - self.hazards(matrix), axis=1)


def row_blocks(curve: np.ndarray) -> list[np.ndarray]:
    """`curve` in blocks of `CURVE_BLOCK` rows (at least one, maybe empty): a row's numbers
    need only that row, and a large base's temporaries (several per row and period) then never
    all sit in memory."""
    return [curve[i : i + CURVE_BLOCK] for i in range(0, max(len(curve), 1), CURVE_BLOCK)]


def survival_at(curve: np.ndarray, grid: Grid, days: float | np.ndarray) -> np.ndarray:
    """Each row's survival at `days` (one value or one per column wanted), interpolated
    log-linearly within a period (a constant hazard inside it); 1 at day 0."""
    wanted = np.atleast_1d(np.asarray(days, dtype=float))
    if (wanted > grid.days * grid.n).any():
        raise ValueError(f"survival past {grid.days * grid.n:.0f} days is not modelled")
    knots = np.concatenate([[0.0], grid.ends])
    # the same knots for every row: each wanted day mixes the same two columns
    right = np.clip(np.searchsorted(knots, wanted, side="right"), 1, len(knots) - 1)
    share = (wanted - knots[right - 1]) / (knots[right] - knots[right - 1])

    def interpolated(rows: np.ndarray) -> np.ndarray:
        log_s = np.log(np.clip(np.column_stack([np.ones(len(rows)), rows]), 1e-12, 1.0))
        return np.exp(log_s[:, right - 1] * (1.0 - share) + log_s[:, right] * share)

    out = np.concatenate([interpolated(rows) for rows in row_blocks(curve)])
    return out if np.ndim(days) else out[:, 0]


def restricted_mean(curve: np.ndarray, grid: Grid) -> np.ndarray:
    """Expected days as a customer within the grid's span (the area under the curve, each
    period's survival decaying at its constant hazard)."""

    def area(rows: np.ndarray) -> np.ndarray:
        start = np.column_stack([np.ones(len(rows)), rows[:, :-1]])
        end = np.clip(rows, 1e-12, 1.0)
        ratio = end / np.clip(start, 1e-12, 1.0)
        flat = np.abs(ratio - 1.0) <= FLAT  # np.isclose(ratio, 1.0), without its set-up
        area = np.where(flat, start, (start - end) / np.where(flat, 1.0, -np.log(ratio)))
        return area.sum(axis=1)

    return grid.days * np.concatenate([area(rows) for rows in row_blocks(curve)])


def sample_rows(
    duration: np.ndarray, event: np.ndarray, grid: Grid, max_periods: int, seed: int
) -> np.ndarray:
    """Positions of a random sample of rows whose person-periods stay within `max_periods`
    (all rows when they fit): the expanded table grows with rows × periods."""
    rows, _, _ = person_periods(duration, event, grid)
    count = np.bincount(rows, minlength=len(duration))
    if count.sum() <= max_periods:
        return np.arange(len(duration))
    order = np.random.default_rng(seed).permutation(len(duration))
    keep = order[np.cumsum(count[order]) <= max_periods]
    return np.sort(keep)


def tenure_columns(curve: np.ndarray, grid: Grid, days: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The list's columns read off each row's curve: the chance of still being a customer
    each of `days` after the cutoff, and the expected days as one within the modelled span."""
    at = survival_at(curve, grid, np.asarray(days, dtype=float))
    out = {f"survival_{d}d": at[:, j] for j, d in enumerate(days)}
    return out | {"expected_tenure_days": restricted_mean(curve, grid)}


def monthly_value(
    curve: np.ndarray, grid: Grid, per_month: np.ndarray, months: float, yearly_discount: float
) -> np.ndarray:
    """The discounted sum of `per_month` over the next `months` (within the grid's span),
    each month paid only if the customer is still one at its end. Never negative."""
    span = int(min(np.floor(months), np.floor(grid.days * grid.n / MONTH_DAYS)))
    if span < 1:
        return np.zeros(len(curve))
    ends = MONTH_DAYS * np.arange(1, span + 1)
    staying = survival_at(curve, grid, ends)
    discount = (1.0 + yearly_discount) ** -(np.arange(1, span + 1) / 12)
    pay = np.clip(np.nan_to_num(np.asarray(per_month, dtype=float)), 0.0, None)
    return pay * (staying @ discount)


def kept_value(
    curve: np.ndarray,
    grid: Grid,
    per_month: np.ndarray,
    horizon_days: float,
    months: float,
    yearly_discount: float,
) -> np.ndarray:
    """`monthly_value` of a customer known to still be one `horizon_days` on: what an action
    that keeps them through its horizon saves. Their curve is conditioned on it (1 until then,
    S(t) / S(horizon) after), so a customer likely to leave soon after is worth less."""
    at = survival_at(curve, grid, float(horizon_days))
    kept = np.minimum(curve / np.clip(at, 1e-12, None)[:, None], 1.0)
    return monthly_value(kept, grid, per_month, months, yearly_discount)

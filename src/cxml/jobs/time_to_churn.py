"""The time-to-churn model a training run fits: on every cutoff's rows, churns followed to
the end of the log, for the bundle; or only on the cutoffs before a test cutoff, churns
followed only to it, for judging the lifetime value rule there without seeing the test period."""

from __future__ import annotations

import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.load import LoadedData
from cxml.features.dataset import Split
from cxml.features.labels import churn_times_of
from cxml.models.backtest import customer_buckets
from cxml.models.survival import Grid, HazardModel, sample_rows
from cxml.models.train import FrameEncoder

LIFETIME_NEEDS_SURVIVAL = (
    "actions.value.rule is 'lifetime', which reads each customer's time-to-churn curve, but "
    "none can be learned here: it needs churn labels derived from a dated event log "
    "(labels.source: derived) and out-of-time cutoffs; set actions.value.rule: fixed"
)


def time_to_churn_model(
    config: PipelineConfig,
    loaded: LoadedData,
    features: pd.DataFrame,
    encoder: FrameEncoder,
    split: Split | None,
    until: pd.Timestamp | None = None,
) -> HazardModel | None:
    """The time-to-churn model on every cutoff's rows, churns followed to the end of the log
    (`until`: only the cutoffs before it, churns followed to it); None for a snapshot (no churn
    dates to learn from) or a run without churn."""
    events = loaded.tables["events"]
    derived = config.labels.source == "derived" and len(events) > 0
    if split is None or "churn" not in config.targets or not derived:
        return None
    end = events["event_time"].max() + pd.Timedelta(microseconds=1)  # the last event is seen
    if until is not None:
        features = features[features.index.get_level_values("cutoff") < until]
        end = until
    times = churn_times_of(features.index, events, end, config.labels)
    duration, event = times["duration_days"].to_numpy(), times["event"].to_numpy()
    grid = Grid()
    keep = sample_rows(duration, event, grid, config.model.survival_periods, config.model.seed)
    taken = features.iloc[keep]
    stop = customer_buckets(taken.index, 10) == 0
    matrix = encoder.transform(taken)
    return HazardModel.fit(matrix, duration[keep], event[keep], stop, config.model, grid)

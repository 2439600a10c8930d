"""The pipeline config checked against the data before any heavy work: a segment column that
does not exist, a cutoff whose label window is still open, a split the cutoffs cannot hold, an
event type the labels need that the log never has. Each problem names the key to change and
values that would work, read from the data itself."""

from __future__ import annotations

import pandas as pd

from cxml.config import ConfigError, PipelineConfig
from cxml.data.load import LoadedData
from cxml.features.attributes import profile_columns
from cxml.features.build import feature_catalog
from cxml.features.dataset import out_of_time_split

#: A label window may close up to a day after the last event: the last day is a partial one.
_SLACK = pd.Timedelta(days=1)


def check_against_data(
    config: PipelineConfig, loaded: LoadedData, cutoffs: list[pd.Timestamp]
) -> None:
    """Stop with every mismatch between `config` and the loaded data, each with its fix."""
    events = loaded.tables["events"]
    problems = [*_segments(config, loaded), *_event_types(config, events)]
    if config.evaluation.kind == "out_of_time" and len(events):
        if config.labels.source == "derived":
            problems += _label_windows(config, events, cutoffs)
        if not problems:
            problems += _split(config, events, cutoffs)
    if problems:
        raise ConfigError(
            f"the pipeline config does not fit the data in {config.data.dir}:\n"
            + "\n".join(f"  {p}" for p in problems)
        )


def _segments(config: PipelineConfig, loaded: LoadedData) -> list[str]:
    """Segments must be features; the customers' attributes are what a segment usually is."""
    wanted = config.evaluation.segments
    if not wanted:
        return []
    profile = profile_columns(loaded.tables["customers"], loaded.tables.get("attributes"))
    features = set(feature_catalog(profile, config.features).index)
    attributes = [c.removeprefix("profile_") for c in sorted(features) if c.startswith("profile_")]
    missing = [s for s in wanted if s not in features and f"profile_{s}" not in features]
    if not missing:
        return []
    could = (
        ", ".join(attributes[:12]) if attributes else "none (the customers table has no attribute)"
    )
    return [
        f"evaluation.segments: {', '.join(repr(s) for s in missing)} is not a customer attribute "
        f"or feature of this data; remove it, or use one of: {could}"
    ]


def _event_types(config: PipelineConfig, events: pd.DataFrame) -> list[str]:
    labels = config.labels
    if labels.source != "derived":
        return []
    present = set(events["event_type"].astype(str).unique())
    listed = ", ".join(sorted(present)) or "none"
    problems = []
    if labels.churn == "inactivity" and not present & set(labels.activity_types):
        problems.append(
            f"labels.activity_types: none of {', '.join(labels.activity_types)} is in the "
            f"events; name the types that mean activity, from: {listed}"
        )
    asked = "targets" in config.model_fields_set and "satisfaction_drop" in config.targets
    if asked and labels.survey_type not in present:
        problems.append(
            f"labels.survey_type: no '{labels.survey_type}' events to tell a satisfaction drop; "
            f"set it to the survey type of these events ({listed}), or remove "
            "satisfaction_drop from targets"
        )
    return problems


def _label_windows(
    config: PipelineConfig, events: pd.DataFrame, cutoffs: list[pd.Timestamp]
) -> list[str]:
    """Every cutoff's label window must have closed within the data, and start after it does."""
    start, end = _span(events)
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    problems = []
    open_ = [c for c in cutoffs if c + horizon > end + _SLACK]
    if open_:
        fits = end + _SLACK - horizon
        problems.append(
            f"cutoffs: {_dates(open_)} have a {config.labels.horizon_days}-day label window "
            f"that the data (ending {end.date()}) has not closed, so every customer would look "
            f"churned; use cutoffs up to {fits.date()} (cutoffs.last: {_month_start(fits)}), "
            "or shorten labels.horizon_days"
        )
    early = [c for c in cutoffs if c <= start]
    if early:
        problems.append(
            f"cutoffs: {_dates(early)} come before the data starts ({start.date()}), so no "
            f"customer has a history there; start at {_next_month(start)} or later "
            "(cutoffs.first)"
        )
    return problems


def _split(config: PipelineConfig, events: pd.DataFrame, cutoffs: list[pd.Timestamp]) -> list[str]:
    """The out-of-time split the cutoffs must hold; when they cannot, what would work: fewer
    validation cutoffs, a shorter horizon, or earlier cutoffs when earlier data exists."""
    spec, horizon = config.cutoffs, config.labels.horizon_days
    try:
        out_of_time_split(cutoffs, horizon, spec.n_test, spec.n_validation)
        return []
    except ValueError as exc:
        said = str(exc).split(":")[0]
    fixes = []
    fewer = [
        k for k in range(spec.n_validation - 1, -1, -1) if _fits(cutoffs, horizon, spec.n_test, k)
    ]
    if fewer:
        fixes.append(f"cutoffs.n_validation: {fewer[0]}")
    shorter = [
        h for h in range(horizon - 1, 6, -1) if _fits(cutoffs, h, spec.n_test, spec.n_validation)
    ]
    if shorter:
        fixes.append(f"labels.horizon_days: {shorter[0]}")
    start, _ = _span(events)
    earliest = _next_month(start)
    if cutoffs and pd.Timestamp(earliest, tz="UTC") < min(cutoffs):
        fixes.append(f"cutoffs.first: {earliest} (the data starts {start.date()})")
    advice = "; or ".join(fixes) if fixes else "the data spans too little time for this split"
    return [f"cutoffs: {said}; set {advice}"]


def _fits(cutoffs: list[pd.Timestamp], horizon: int, n_test: int, n_validation: int) -> bool:
    try:
        out_of_time_split(cutoffs, horizon, n_test, n_validation)
    except ValueError:
        return False
    return True


def _span(events: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    times = pd.to_datetime(events["event_time"], utc=True)
    return pd.Timestamp(times.min()), pd.Timestamp(times.max())


def _dates(cutoffs: list[pd.Timestamp]) -> str:
    shown = ", ".join(str(c.date()) for c in cutoffs[:3])
    return shown + (f" and {len(cutoffs) - 3} more" if len(cutoffs) > 3 else "")


def _month_start(at: pd.Timestamp) -> str:
    """The first day of `at`'s month (a monthly cutoff on or before `at`)."""
    return str(at.normalize().replace(day=1).date())


def _next_month(at: pd.Timestamp) -> str:
    """The first day of the month after `at` (the first monthly cutoff with history before it)."""
    return str((at.normalize().replace(day=1) + pd.offsets.MonthBegin(1)).date())

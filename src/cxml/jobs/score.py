"""Scoring: the registered bundle applied to customers at a cutoff, for lists and the endpoint.

One function, `Scorer.score`, turns (events, customers, cutoff) into scored rows: probabilities,
risk band and rank, reasons, and the recommended action. Batch scoring (`run_score`) and the
endpoint both call it, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.io import write_atomic, write_csv, write_parquet
from cxml.data.schema import utc_timestamp
from cxml.models.bundle import ScoringBundle

BAND_HIGH, BAND_MEDIUM = 3.0, 1.5  # multiples of the training churn rate


def risk_bands(probability: np.ndarray, base_rate: float) -> np.ndarray:
    """'high' at 3x the average risk the model was trained on or more, 'medium' at 1.5x."""
    return np.where(
        probability >= BAND_HIGH * base_rate,
        "high",
        np.where(probability >= BAND_MEDIUM * base_rate, "medium", "low"),
    )


def ranks(probability: pd.Series, raw: np.ndarray) -> np.ndarray:
    """1 = most at risk. Calibration maps many scores to one probability, so ties are broken
    by the model's raw score, then by customer id: reruns give the same order."""
    order = pd.DataFrame(
        {"p": -probability.to_numpy(), "raw": -raw, "id": probability.index.astype(str)}
    )
    position = order.sort_values(["p", "raw", "id"], kind="stable").index.to_numpy()
    rank = np.empty(len(position), dtype=np.int64)
    rank[position] = np.arange(1, len(position) + 1)
    return rank


@dataclass
class Scorer:
    """A loaded bundle and where it came from; every output names the model version."""

    bundle: ScoringBundle
    model_name: str
    model_version: str

    @property
    def base_rate(self) -> float:
        summary = self.bundle.info.get("summary", {})
        rate = summary.get("churn_rate") if isinstance(summary, dict) else None
        return float(rate) if rate is not None and np.isfinite(rate) else 0.1

    def score(
        self,
        events: pd.DataFrame,
        customers: pd.DataFrame,
        cutoff: str | pd.Timestamp,
        explain_top: float | None = None,
        actions_log: pd.DataFrame | None = None,
        per_customer: bool = True,
    ) -> pd.DataFrame:
        """One row per customer: probabilities, band, rank, reasons and action columns (the
        actions log, when given, enforces cooldowns and contact caps). `per_customer`: each
        gets their best eligible action, as an application asking about one customer expects;
        batch scoring instead allocates under the run's budget and capacities."""
        at = utc_timestamp(cutoff)
        features = self.bundle.features(events, customers, at)
        return self.score_features(features, at, explain_top, actions_log, per_customer)

    def score_features(
        self,
        features: pd.DataFrame,
        at: pd.Timestamp,
        explain_top: float | None = None,
        actions_log: pd.DataFrame | None = None,
        per_customer: bool = False,
        touchpoints: bool = False,
    ) -> pd.DataFrame:
        """`score` on features already built at `at` (batch scoring reuses them for drift);
        `touchpoints` adds the touchpoint impact of the explained rows as `attrs`."""
        matrix = self.bundle.encoder.transform(features)  # encoded once for every model
        scores = self.bundle.predict_matrix(matrix, features.index)
        churn = scores["churn_probability"]
        raw = self.bundle.models["churn"].predict_matrix_raw(matrix)
        frame = pd.DataFrame(index=features.index)
        frame["cutoff"] = at
        frame["churn_probability"] = churn
        frame["churn_risk_band"] = risk_bands(churn.to_numpy(), self.base_rate)
        frame["churn_rank"] = ranks(churn, raw)
        for column in scores.columns.drop("churn_probability"):
            frame[column] = scores[column]
        reasons = self.reasons(features, churn.to_numpy(), explain_top, touchpoints)
        frame = frame.join(reasons)
        if touchpoints:
            frame.attrs["touchpoints"] = reasons.attrs["touchpoints"]
        if self.bundle.uplift is not None and self.bundle.actions is not None:
            actions = self.actions(features, frame, actions_log, at, per_customer)
            frame = frame.join(actions)
        frame["model_name"] = self.model_name
        frame["model_version"] = self.model_version
        return frame.reset_index()

    def reasons(
        self,
        features: pd.DataFrame,
        churn: np.ndarray,
        explain_top: float | None,
        touchpoints: bool = False,
    ) -> pd.DataFrame:
        """reason_1..3 (what raises churn risk, in words) for the riskiest `explain_top` share
        (None = everyone); `explained` says who has them (explaining costs ~100 predictions)."""
        from cxml.models.explain import explain_top as contributions_for
        from cxml.models.explain import reason_codes, touchpoint_impact

        contrib, explained = contributions_for(self.bundle, features, "churn", churn, explain_top)
        codes = reason_codes(contrib, features.loc[contrib.index], self.bundle.catalog, k=3)
        columns = [f"reason_{i}" for i in (1, 2, 3)] + [f"reason_family_{i}" for i in (1, 2, 3)]
        reasons = codes[columns].reindex(features.index).fillna("")
        reasons["explained"] = explained
        if touchpoints:
            reasons.attrs["touchpoints"] = touchpoint_impact(contrib, self.bundle.catalog)
        return reasons

    def actions(
        self,
        features: pd.DataFrame,
        scored: pd.DataFrame,
        log: pd.DataFrame | None,
        at: pd.Timestamp,
        per_customer: bool = False,
    ) -> pd.DataFrame:
        """The next best action per customer under the bundle's catalog, budget and rules."""
        from cxml.actions.recommend import recommend

        assert self.bundle.actions is not None
        uplift = self.bundle.uplift.predict_uplift(features)  # type: ignore[attr-defined]
        return recommend(uplift, features, log, self.bundle.actions, at, scored, per_customer)


def load_scorer(model_name: str, ref: str = "champion") -> Scorer:
    from cxml.jobs import tracking

    version, bundle = tracking.load_reference(model_name, ref)
    if not isinstance(bundle, ScoringBundle):
        raise ValueError(f"{model_name} v{version} is not a cxml scoring bundle")
    return Scorer(bundle, model_name, version)


def write_scored(scored: pd.DataFrame, out: Path) -> list[Path]:
    """Parquet and CSV, each written atomically (a failed run leaves the old ones in place)."""
    return [write_parquet(scored, out / "scored.parquet"), write_csv(scored, out / "scored.csv")]


def scoring_population(
    events: pd.DataFrame, customers: pd.DataFrame, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """The customers still with us at the cutoff (joined before it, not cancelled): the same
    population the models were trained on."""
    from cxml.features.labels import active_customers

    active = active_customers(events, customers, cutoff)
    ids = customers["customer_id"].astype(str)
    return customers[ids.isin(active).to_numpy()]


def run_score(
    config: PipelineConfig,
    cutoff: str,
    out: Path,
    ref: str = "champion",
    explain_top: float | None = 0.1,
) -> tuple[pd.DataFrame, list[Path]]:
    """Score everyone active at the cutoff with the registered bundle; write the list and the
    report. Everything is computed before anything is written, and each file is replaced
    atomically, so a failed run leaves the previous outputs as they were."""
    from tqdm import tqdm

    from cxml.jobs.score_report import archive, report_html
    from cxml.jobs.train import load_inputs

    at = utc_timestamp(cutoff)
    steps = ["load data", "load model", "features", "score, explain, allocate", "report", "write"]
    progress = tqdm(steps, desc="scoring", unit="step", leave=False)
    step = iter(progress)
    next(step)
    loaded = load_inputs(config)
    next(step)
    scorer = load_scorer(config.tracking.model_name, ref)
    events, customers = loaded.tables["events"], loaded.tables["customers"]
    next(step)
    population = scoring_population(events, customers, at)
    features = scorer.bundle.features(events, population, at)
    log = loaded.tables.get("actions")
    next(step)
    scored = scorer.score_features(features, at, explain_top, log, touchpoints=True)
    scored = scored.sort_values("churn_rank", kind="stable").reset_index(drop=True)
    scored["scored_at"] = pd.Timestamp.now(tz="UTC")
    next(step)
    html = report_html(scored, scorer, features, loaded, out)
    next(step)
    written = write_scored(scored, out)
    written.append(write_atomic(out / "report.html", lambda tmp: tmp.write_text(html)))
    written.append(archive(scored, out))
    progress.close()
    return scored, written

"""The scoring bundle: everything scoring and serving need, as one registered version.

Feature settings and catalog, the calibrated model per target, the label definition they were
trained for and the action catalog travel together, so a version can never pair a model with
the wrong features. The settings are kept as plain data (`spec`), read back into the config's
dataclasses on use, so renaming a settings class never breaks loading a registered model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cxml.config import (
    ActionsConfig,
    ExperimentConfig,
    FeatureConfig,
    LabelConfig,
    from_plain,
    plain,
)
from cxml.features.build import build_features
from cxml.features.catalog import Features
from cxml.features.table import Table
from cxml.features.visible import Source
from cxml.models.choice import RiskModel
from cxml.models.survival import HazardModel
from cxml.models.train import FrameEncoder

#: The bundle's layout; a bundle of another layout is refused with what to do.
LAYOUT = 2


def bundle_spec(
    features: FeatureConfig,
    labels: LabelConfig,
    actions: ActionsConfig | None,
    experiment: ExperimentConfig | None = None,
) -> dict[str, Any]:
    """The settings a bundle keeps, as plain data (`experiment`: the control group and
    exploration a list scored by the exported model draws, as `cxml score` does)."""
    return {
        "layout": LAYOUT,
        "features": plain(features),
        "labels": plain(labels),
        "actions": None if actions is None else plain(actions),
        "experiment": None if experiment is None else plain(experiment),
    }


@dataclass
class ScoringBundle:
    pipeline: str
    spec: dict[str, Any]  # bundle_spec: layout, feature, label and action settings
    catalog: pd.DataFrame  # one row per model input column, indexed by name
    encoder: FrameEncoder  # shared by every model
    models: dict[str, RiskModel]  # target -> calibrated model
    info: dict[str, object] = field(default_factory=dict)  # cutoffs, metrics: for the record
    uplift: object | None = None  # a fitted meta-learner (models/uplift.py), when actions exist
    survival: HazardModel | None = None  # time to churn (models/survival.py), when learned

    def __getstate__(self) -> dict[str, Any]:
        cached = {"feature_config", "labels", "actions", "experiment"}  # rebuilt from `spec`
        return {k: v for k, v in self.__dict__.items() if k not in cached}

    def __setstate__(self, state: dict[str, Any]) -> None:
        layout = state.get("spec", {}).get("layout") if isinstance(state, dict) else None
        if layout != LAYOUT:
            raise BundleLayoutError(
                f"this model was saved by another version of cxml (bundle layout {layout or 1}, "
                f"this one reads {LAYOUT}): retrain it with `cxml train`, or score it with the "
                "cxml release that trained it"
            )
        self.__dict__.update(state)

    @cached_property
    def feature_config(self) -> FeatureConfig:
        return from_plain(FeatureConfig, self.spec["features"])

    @cached_property
    def labels(self) -> LabelConfig:
        return from_plain(LabelConfig, self.spec["labels"])

    @cached_property
    def experiment(self) -> ExperimentConfig | None:
        found = self.spec.get("experiment")
        return None if found is None else from_plain(ExperimentConfig, found)

    @cached_property
    def actions(self) -> ActionsConfig | None:
        """The catalog, budget and rules it recommends under (None: no actions)."""
        found = self.spec.get("actions")
        return None if found is None else from_plain(ActionsConfig, found)

    @property
    def horizon_days(self) -> int:
        return self.labels.horizon_days

    @property
    def feature_names(self) -> list[str]:
        return list(self.encoder.columns_)

    def features(
        self,
        events: Source,
        customers: Source,
        cutoff: str | pd.Timestamp,
        since: pd.Timestamp | None = None,
    ) -> Features:
        """Model inputs at `cutoff`, built exactly as in training (`since`: when the event log
        starts, see `build_features`)."""
        return build_features(events, customers, cutoff, self.feature_config, since)

    def encode(self, features: Table) -> np.ndarray:
        """Rows encoded for the models (the same matrix for every model and the explanations)."""
        return self.encoder.transform(features)

    def probabilities(
        self, matrix: np.ndarray, raw: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """`<target>_probability` per encoded row: calibrated, within the label horizon.
        `raw`: the raw scores of some targets, already computed for these rows."""
        known = raw or {}
        return {
            f"{t}_probability": m.calibrated(known[t]) if t in known else m.predict_matrix(matrix)
            for t, m in self.models.items()
        }

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """`probabilities` of a feature frame, as a frame: the face MLflow's pyfunc calls."""
        return pd.DataFrame(
            self.probabilities(self.encode(Table.of(features))), index=features.index
        )

    def predict_uplift(
        self, features: Table, matrix: np.ndarray, level: np.ndarray | None = None
    ) -> np.ndarray:
        """The uplift learner's estimates (rows x its `actions_`) for `features`, already
        encoded as `matrix`: reused when the learner encodes exactly as the bundle does (the
        same columns and levels), otherwise the learner encodes the features itself. `level`:
        P(good outcome | no action) per row, where the effects are taken (metalearner.anchored)."""
        learner: Any = self.uplift
        if learner is None:
            raise ValueError("this bundle has no uplift model: retrain with an actions log")
        if not learner.encodes_like(self.encoder):
            matrix = learner.encode(features)
        return np.asarray(learner.predict_uplift_matrix(matrix, level), dtype=float)

    def uplift_contributions(
        self, features: Table, matrix: np.ndarray, action: str
    ) -> tuple[np.ndarray, list[str]] | None:
        """What drives each row's estimated effect of `action` (rows x features, and the
        features' names), for learners that can say (the offset learner); else None."""
        learner: Any = self.uplift
        if learner is None or not hasattr(learner, "uplift_contributions"):
            return None
        if not learner.encodes_like(self.encoder):
            matrix = learner.encode(features)
        names = list(learner.encoder_.columns_) if learner.encoder_ is not None else []
        return learner.uplift_contributions(matrix, action), names

    def unknown_levels(self, features: Table) -> dict[str, list[str]]:
        return self.encoder.unknown_levels(features)


class BundleLayoutError(ValueError):
    """A registered model saved in a layout this version of cxml cannot read."""


def synthetic_example(features: pd.DataFrame, rows: int = 2) -> pd.DataFrame:
    """Made-up rows with the features' columns and types (MLflow writes the example into its
    artifacts, so it must not be a real customer): medians and the commonest level, then
    those shifted, under invented ids."""
    base: dict[str, list[object]] = {}
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_numeric_dtype(values):
            median = float(values.median()) if values.notna().any() else 0.0
            base[column] = [median * (1 + i / 2) for i in range(rows)]
        else:
            common = values.dropna().astype(str).mode()
            level = common.iloc[0] if len(common) else None
            base[column] = [level] * rows
    index = pd.Index([f"synthetic-{i + 1}" for i in range(rows)], name="customer_id")
    frame = pd.DataFrame(base, index=index)
    return frame.astype({c: float for c in frame.select_dtypes("number").columns}).replace(
        [np.inf, -np.inf], np.nan
    )

"""A registered bundle keeps its settings as plain data, so renaming a settings class never
breaks loading it; a bundle of another layout is refused with what to do."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest
from pydantic import TypeAdapter

from cxml.config import ActionsConfig, FeatureConfig, LabelConfig
from cxml.models.bundle import BundleLayoutError, ScoringBundle, bundle_spec
from cxml.models.train import FrameEncoder

ACTIONS = TypeAdapter(ActionsConfig).validate_python(
    {
        "value": {"feature": "profile_monthly_charge", "multiplier": 12},
        "contact": {"max_contacts": 1, "period_days": 28},
        "catalog": [
            {"name": "call", "channel": "phone", "cost": 5, "capacity": 10,
             "rules": [{"column": "segment", "isin": ["gold"]}]},
            {"name": "mail", "channel": "email", "cost": 1, "cooldown_days": 7},
        ],
    }
)  # fmt: skip


def _bundle(actions: ActionsConfig | None) -> ScoringBundle:
    features = FeatureConfig(windows=(7, 30, 90, 180))
    spec = bundle_spec(features, LabelConfig(horizon_days=30, churn="inactivity"), actions)
    encoder = FrameEncoder().fit(pd.DataFrame({"n_login_30d": [1.0, 2.0]}))
    return ScoringBundle("p", spec, pd.DataFrame(), encoder, {})


@pytest.mark.parametrize("actions", [ACTIONS, None])
def test_settings_are_plain_data_and_read_back_equal(actions):
    bundle = _bundle(actions)
    json.dumps(bundle.spec)  # plain: dicts, lists, strings and numbers only
    assert bundle.feature_config.windows == (7, 30, 90, 180)
    assert bundle.labels == LabelConfig(horizon_days=30, churn="inactivity")
    assert bundle.horizon_days == 30
    assert bundle.actions == actions
    again = pickle.loads(pickle.dumps(bundle))  # read settings are not pickled
    assert b"cxml.config" not in pickle.dumps(bundle)
    assert again.actions == actions and again.feature_config == bundle.feature_config


def test_a_bundle_of_another_layout_is_refused_with_what_to_do():
    old = _bundle(None).__dict__ | {"spec": {"layout": 1}}
    with pytest.raises(BundleLayoutError, match=r"layout 1.*retrain it with `cxml train`"):
        ScoringBundle.__new__(ScoringBundle).__setstate__(old)
    without = {k: v for k, v in old.items() if k != "spec"}  # the first layout had no spec
    with pytest.raises(BundleLayoutError, match="retrain"):
        ScoringBundle.__new__(ScoringBundle).__setstate__(without)

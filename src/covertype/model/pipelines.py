"""The candidate pipelines: terrain features, a categorical encoding, a model, under a size budget.

Every candidate is one scikit-learn :class:`~sklearn.pipeline.Pipeline` taking the 12 canonical feature
columns (ten integers, ``Wilderness_Area`` and ``Soil_Type`` as strings), so the engineered features and
the encoding travel inside the model and the ONNX export covers all of it.

HistGradientBoosting and LightGBM get the categories as ordinal codes used as plain numbers, not as native
``categorical_features``: skl2onnx converts native categorical splits without error and ignores them
(80% label agreement in a trial), while plain codes cost about nothing in accuracy (0.843 -> 0.842).
"""

from __future__ import annotations

from typing import Any, Final

from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from covertype.model.features import TerrainFeatures
from covertype.schema import CATEGORICAL_COLUMNS, COVER_TYPES, SOIL_TYPES, WILDERNESS_AREAS

_CATEGORIES = [list(WILDERNESS_AREAS), list(SOIL_TYPES)]

#: Most tree leaves a candidate may have in total. Size and single-row latency of the exported graph
#: grow with the leaves (and the depth they imply); about 150 bytes per leaf in ONNX, so ~45 MB at most.
LEAF_BUDGET: Final = 300_000


def _ordinal_encoding() -> ColumnTransformer:
    """Categoricals as integer codes in the first two columns (split on as plain numbers)."""
    encoder = OrdinalEncoder(categories=_CATEGORIES, handle_unknown="use_encoded_value", unknown_value=-1)
    return ColumnTransformer(
        [("categories", encoder, list(CATEGORICAL_COLUMNS))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )


def _one_hot_encoding(*, scale_numeric: bool) -> ColumnTransformer:
    encoder = OneHotEncoder(categories=_CATEGORIES, handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer(
        [("categories", encoder, list(CATEGORICAL_COLUMNS))],
        remainder=StandardScaler() if scale_numeric else "passthrough",
        verbose_feature_names_out=False,
    )


def _pipeline(encoding: ColumnTransformer, model: Any) -> Pipeline:
    return Pipeline([("features", TerrainFeatures()), ("encode", encoding), ("model", model)])


def hgb(seed: int) -> Pipeline:
    model = HistGradientBoostingClassifier(
        max_iter=300, early_stopping=True, n_iter_no_change=20, random_state=seed
    )
    return _pipeline(_ordinal_encoding(), model)


def lightgbm(seed: int) -> Pipeline:
    """LightGBM's gradient boosting on one thread.

    Left to its default thread count, LightGBM ignored ``threadpool_limits`` and on the busy two-core
    machine a 30-round fit took 163 s instead of 1.1 s with ``n_jobs=1`` (threads spinning against each
    other); candidates scale out across tasks instead, as the others do.
    """
    model = LGBMClassifier(n_jobs=1, random_state=seed, deterministic=True, force_col_wise=True, verbose=-1)
    return _pipeline(_ordinal_encoding(), model)


def random_forest(seed: int) -> Pipeline:
    return _pipeline(
        _one_hot_encoding(scale_numeric=False), RandomForestClassifier(n_jobs=-1, random_state=seed)
    )


def extra_trees(seed: int) -> Pipeline:
    return _pipeline(
        _one_hot_encoding(scale_numeric=False), ExtraTreesClassifier(n_jobs=-1, random_state=seed)
    )


def logreg(seed: int) -> Pipeline:
    return _pipeline(
        _one_hot_encoding(scale_numeric=True), LogisticRegression(max_iter=500, random_state=seed)
    )


def leaf_bound(params: dict[str, Any]) -> int:
    """Most leaves a model with these parameters can grow, whatever the data (0 for a linear model).

    Forests: trees x ``max_leaf_nodes``. Gradient boosting grows one tree per class and iteration
    (HistGradientBoosting's ``max_iter``, LightGBM's ``n_estimators`` with ``num_leaves``).
    A tree parameter left unbounded (None) makes the bound infinite, so the search never picks it.
    """
    if "num_leaves" in params:
        leaves, trees = params["num_leaves"], params["n_estimators"] * len(COVER_TYPES)
    elif "max_leaf_nodes" in params:
        leaves = params["max_leaf_nodes"]
        trees = params.get("n_estimators") or params.get("max_iter", 0) * len(COVER_TYPES)
    else:
        return 0
    if leaves is None or trees is None:
        return 2**62
    return int(trees) * int(leaves)

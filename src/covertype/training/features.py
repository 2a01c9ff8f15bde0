"""Engineered terrain features, fitted inside every candidate pipeline.

Registered models are pickled with a reference to :class:`TerrainFeatures`, so whoever loads a model
(the inference API) imports this module: it must stay light (numpy, pandas, scikit-learn only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from covertype.schema import FEATURE_COLUMNS

#: Columns :class:`TerrainFeatures` appends to the 12 feature columns, in order.
ENGINEERED_COLUMNS: tuple[str, ...] = (
    "Distance_To_Hydrology",
    "Elevation_Above_Water",
    "Elevation_Minus_Hydrology_Run",
    "Hydrology_Plus_Fire",
    "Hydrology_Minus_Fire",
    "Hydrology_Plus_Roadways",
    "Hydrology_Minus_Roadways",
    "Fire_Plus_Roadways",
    "Fire_Minus_Roadways",
    "Aspect_Sin",
    "Aspect_Cos",
    "Hillshade_Mean",
)


class TerrainFeatures(TransformerMixin, BaseEstimator):
    """Add the distance and elevation combinations that separate cover types better than raw columns.

    Stateless: sums and differences of the horizontal distances and the elevation above the nearest
    water are the classic winners on this dataset (they let axis-aligned trees cut along diagonals).
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> TerrainFeatures:
        missing = [column for column in FEATURE_COLUMNS if column not in X.columns]
        if missing:
            raise ValueError(f"TerrainFeatures: input lacks the feature columns {', '.join(missing)}")
        self.n_features_in_ = len(FEATURE_COLUMNS)
        self.feature_names_in_ = np.asarray(FEATURE_COLUMNS, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        frame = X[list(FEATURE_COLUMNS)].copy()
        hydro = frame["Horizontal_Distance_To_Hydrology"].astype(np.float64)
        vertical = frame["Vertical_Distance_To_Hydrology"].astype(np.float64)
        fire = frame["Horizontal_Distance_To_Fire_Points"].astype(np.float64)
        roads = frame["Horizontal_Distance_To_Roadways"].astype(np.float64)
        elevation = frame["Elevation"].astype(np.float64)
        aspect = np.deg2rad(frame["Aspect"].astype(np.float64))
        frame["Distance_To_Hydrology"] = np.hypot(hydro, vertical)
        frame["Elevation_Above_Water"] = elevation - vertical
        frame["Elevation_Minus_Hydrology_Run"] = elevation - 0.2 * hydro
        frame["Hydrology_Plus_Fire"] = hydro + fire
        frame["Hydrology_Minus_Fire"] = hydro - fire
        frame["Hydrology_Plus_Roadways"] = hydro + roads
        frame["Hydrology_Minus_Roadways"] = hydro - roads
        frame["Fire_Plus_Roadways"] = fire + roads
        frame["Fire_Minus_Roadways"] = fire - roads
        frame["Aspect_Sin"] = np.sin(aspect)
        frame["Aspect_Cos"] = np.cos(aspect)
        frame["Hillshade_Mean"] = frame[["Hillshade_9am", "Hillshade_Noon", "Hillshade_3pm"]].mean(axis=1)
        return frame

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(FEATURE_COLUMNS + ENGINEERED_COLUMNS, dtype=object)

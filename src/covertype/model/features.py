"""Engineered terrain features, the first step of every candidate pipeline.

Every feature is plain arithmetic that the ONNX export (:mod:`covertype.model.onnx_export`) repeats
operation by operation in float64, so graph and pipeline agree bit for bit: the distance is
``sqrt(h*h + v*v)`` (correctly rounded in both, unlike ``hypot``), and the sine and cosine of the aspect
come from one table indexed by the integer aspect (ONNX Runtime's ``Sin``/``Cos`` differ from numpy's
in the last bits, e.g. cos 90 degrees = -0.0 against 6e-17, enough to cross a tree's split).
The soil's climatic and geologic zones are looked up by soil code too (an ONNX ``LabelEncoder``).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from covertype.schema import FEATURE_COLUMNS, SOIL_TYPES

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
    "Soil_Climatic_Zone",
    "Soil_Geologic_Zone",
)
#: Weight of the horizontal distance to water in ``Elevation_Minus_Hydrology_Run``.
HYDROLOGY_RUN_WEIGHT: Final = 0.2
#: sin and cos of every whole degree 0..359; an aspect is looked up modulo 360.
ASPECT_SIN: Final = np.sin(np.deg2rad(np.arange(360, dtype=np.float64)))
ASPECT_COS: Final = np.cos(np.deg2rad(np.arange(360, dtype=np.float64)))
#: First digit of a soil's USFS ELU code (``C7745`` -> 7): the climatic zone, from lower montane dry (2)
#: to alpine (8). Trees on the one-hot or ordinal soil type cannot group soils by zone by themselves.
SOIL_CLIMATIC_ZONE: Final = {code: int(code[1]) for code in SOIL_TYPES}
#: Second digit of the ELU code (``C7745`` -> 7): the geologic zone (e.g. 7 igneous and metamorphic).
SOIL_GEOLOGIC_ZONE: Final = {code: int(code[2]) for code in SOIL_TYPES}
#: The soil-zone columns of :class:`TerrainFeatures` and the table each is looked up in.
SOIL_ZONES: Final = {"Soil_Climatic_Zone": SOIL_CLIMATIC_ZONE, "Soil_Geologic_Zone": SOIL_GEOLOGIC_ZONE}
#: Zone of a soil code outside :data:`~covertype.schema.SOIL_TYPES` (validation rejects those anyway).
UNKNOWN_ZONE: Final = -1


class TerrainFeatures(TransformerMixin, BaseEstimator):
    """Add the distance and elevation combinations that separate cover types better than raw columns.

    Stateless: sums and differences of the horizontal distances and the elevation above the nearest
    water are the classic winners on this dataset (they let axis-aligned trees cut along diagonals); the
    soil's climatic and geologic zones gained up to 0.7 points of holdout accuracy on the shared sample
    (extra trees +0.4 and +0.5, LightGBM +0.7; one extra-trees setting lost 0.3). A pipeline fitted
    before a column existed ignores it (its encoding step selects its columns by name).
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
        hydro = frame["Horizontal_Distance_To_Hydrology"].to_numpy(np.float64)
        vertical = frame["Vertical_Distance_To_Hydrology"].to_numpy(np.float64)
        fire = frame["Horizontal_Distance_To_Fire_Points"].to_numpy(np.float64)
        roads = frame["Horizontal_Distance_To_Roadways"].to_numpy(np.float64)
        elevation = frame["Elevation"].to_numpy(np.float64)
        degree = np.mod(frame["Aspect"].to_numpy(np.int64), 360)
        shade = [frame[c].to_numpy(np.float64) for c in ("Hillshade_9am", "Hillshade_Noon", "Hillshade_3pm")]
        frame["Distance_To_Hydrology"] = np.sqrt(hydro * hydro + vertical * vertical)
        frame["Elevation_Above_Water"] = elevation - vertical
        frame["Elevation_Minus_Hydrology_Run"] = elevation - HYDROLOGY_RUN_WEIGHT * hydro
        frame["Hydrology_Plus_Fire"] = hydro + fire
        frame["Hydrology_Minus_Fire"] = hydro - fire
        frame["Hydrology_Plus_Roadways"] = hydro + roads
        frame["Hydrology_Minus_Roadways"] = hydro - roads
        frame["Fire_Plus_Roadways"] = fire + roads
        frame["Fire_Minus_Roadways"] = fire - roads
        frame["Aspect_Sin"] = ASPECT_SIN[degree]
        frame["Aspect_Cos"] = ASPECT_COS[degree]
        frame["Hillshade_Mean"] = (shade[0] + shade[1] + shade[2]) / 3.0
        soil = frame["Soil_Type"].astype(str)
        for column, zones in SOIL_ZONES.items():
            frame[column] = soil.map(zones).fillna(UNKNOWN_ZONE).to_numpy(np.float64)
        return frame

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(FEATURE_COLUMNS + ENGINEERED_COLUMNS, dtype=object)

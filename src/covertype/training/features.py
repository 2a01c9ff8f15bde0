"""Where models registered before :mod:`covertype.model` pickled :class:`TerrainFeatures` from.

Kept so their scikit-learn flavor still unpickles (the pipeline compares a new version with such a
champion); new code imports :mod:`covertype.model.features`.
"""

from covertype.model.features import ENGINEERED_COLUMNS, TerrainFeatures

__all__ = ["ENGINEERED_COLUMNS", "TerrainFeatures"]

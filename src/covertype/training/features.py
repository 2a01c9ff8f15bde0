"""Where models registered before :mod:`covertype.model` pickled :class:`TerrainFeatures` from.

Kept so their scikit-learn flavor still unpickles: training re-scores the champion and the newest versions
(:func:`covertype.training.promotion.promote_if_better`) by loading their pickles. New code imports
:mod:`covertype.model.features`. Remove this module once no registry in use holds a version registered
before commit 4f1076e (2026-11-30, the first with :mod:`covertype.model`): nothing else loads such pickles
(the inference API and the batch evaluation read ONNX graphs, which those versions do not have).
"""

from covertype.model.features import ENGINEERED_COLUMNS, TerrainFeatures

__all__ = ["ENGINEERED_COLUMNS", "TerrainFeatures"]

"""Retraining: snapshot the store, train candidate pipelines, log to MLflow, register and promote.

Submodules import their heavy dependencies themselves; :mod:`covertype.training.features` needs only
scikit-learn and pandas because every registered model unpickles it (the inference API imports it).
"""

#: The candidate model families, by name (light to import, for ``covertype train --help``); each is
#: defined in :data:`covertype.training.candidates.CANDIDATES`.
CANDIDATE_NAMES = ("hgb", "random_forest", "extra_trees", "logreg")

"""Retraining: snapshot the store, train candidate pipelines, log to MLflow, register and promote.

Submodules import their heavy dependencies themselves; :mod:`covertype.training.features` needs only
scikit-learn and pandas because every registered model unpickles it (the inference API imports it).
"""

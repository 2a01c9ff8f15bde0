"""Retraining: snapshot the store, train candidate pipelines, log to MLflow, register and promote.

What a model is (features, pipelines, ONNX export) lives in :mod:`covertype.model`; this package runs
the training around it.
"""

"""Model quality over time: the champion tested on every batch before training on it (test-then-train).

Training calls :func:`log_profile` to keep the reference profile of a registered version's training rows,
and :func:`decide_retraining` to decide whether to train, and why.
"""

from covertype.monitoring.retrain import RetrainDecision, RetrainSignals, decide_retraining
from covertype.monitoring.tracking import log_profile

__all__ = ["RetrainDecision", "RetrainSignals", "decide_retraining", "log_profile"]

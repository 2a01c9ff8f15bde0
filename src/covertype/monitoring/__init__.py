"""Model quality over time: the champion tested on every batch before training on it (test-then-train).

Training calls :func:`log_profile` to keep the reference profile of a registered version's training rows.
"""

from covertype.monitoring.tracking import log_profile

__all__ = ["log_profile"]

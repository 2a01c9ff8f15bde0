"""Model quality over time: the champion tested on every batch before training on it (test-then-train)."""

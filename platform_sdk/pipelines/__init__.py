"""CI pipelines: runs defined by ``.platform.yaml``, their steps, logs and artifacts."""

"""Pipeline services: runs (trigger, list, cancel, re-run), step logs and artifacts."""

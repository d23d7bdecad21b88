"""Secrets: versioned values encrypted under a rotatable master key, scoped to runtimes."""

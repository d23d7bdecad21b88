"""Shared core: database, object store, bus and cache, events, audit, access."""

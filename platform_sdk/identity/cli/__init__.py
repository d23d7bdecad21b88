"""CLI verbs of identity (users, tokens, roles, bindings, delegations), added to ``platform``."""

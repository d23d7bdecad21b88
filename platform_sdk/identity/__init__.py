"""Identity: users and agents, login sessions, API tokens, roles, bindings and delegation."""

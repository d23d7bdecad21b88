"""Identity services: users and agents, login sessions, API tokens, roles, delegation, audit.

Every public function here is a service in the sense of DESIGN.md: ``fn(db, *, actor, …)``,
deciding authorization itself, writing its audit row in the caller's transaction and flushing
without committing. Routes, CLI verbs and SDK objects all call these same functions.
"""

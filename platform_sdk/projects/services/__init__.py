"""Project services, one module per resource family (projects, issues and comments, …).

Every public function is ``fn(db, *, actor, …)``: it authorizes through
:func:`platform_sdk.projects.access.access_project`, flushes (never commits), audits each
mutation in the same transaction and emits its domain event after the change.
"""

"""HTTP routes of identity: ``/api/auth`` (login, logout, me), ``/api/users``, ``/api/tokens``,
and the other identity resources, one module per resource family.

Each module exports one FastAPI ``router``; the server app includes them. Routes are thin: they
parse the request, make one ``call`` to a service and return its schema. They never touch the
database or decide who may do what.
"""

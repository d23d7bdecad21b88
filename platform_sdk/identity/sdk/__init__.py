"""SDK objects of identity, python-gitlab style managers over the identity services.

One module per resource family (``users``: ``p.users``; ``tokens``: ``p.tokens`` and
``user.tokens``; …). Import the managers from their modules: this package imports nothing, so
attaching one family to :class:`~platform_sdk.sdk.Platform` never pulls in another.
"""

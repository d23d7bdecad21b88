"""Pipelines are tested against the live git server of the git tests (real ``git push``)."""

from __future__ import annotations

from tests.git.conftest import git_server

__all__ = ["git_server"]

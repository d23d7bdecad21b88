"""Agent sessions: an agent working on a project, with the transcript of its messages."""

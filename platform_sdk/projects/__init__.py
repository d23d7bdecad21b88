"""Projects: repositories with their issues and the comments on issues and merge requests."""

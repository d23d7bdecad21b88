"""Git hosting: repositories over smart HTTP, branches, merge requests and reviews."""

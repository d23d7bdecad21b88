"""Git services: the repository browser, pushes, LFS — each a module of check-then-do functions."""

"""Continuous deployment: ops repositories, deployments per environment and their history."""

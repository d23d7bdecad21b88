"""Where pipeline steps run: local processes or Kubernetes pods, behind :mod:`.base`."""

"""Dev process, packaging and deployment: manifests, images, workflows, scripts, binder."""

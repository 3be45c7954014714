"""Image embeddings: model backends, the on-disk cache and the batched pipeline."""

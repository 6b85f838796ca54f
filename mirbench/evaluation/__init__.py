"""Evaluation protocols on frozen embeddings; import the submodules (``embeddings``, ``lee2020``, ...)."""

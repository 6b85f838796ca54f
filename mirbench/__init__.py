"""mirbench: reproducible music representation-learning benchmarks on PyTorch Lightning."""

__version__ = "0.1.0"

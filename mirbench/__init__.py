"""mirbench: reproducible music representation-learning benchmarks on PyTorch Lightning."""

from mirbench import provenance as _provenance

__version__ = "0.1.0"

_provenance.install()  # RunRecords hash the code this process ran, not the disk when they are written

"""mirbench: reproducible music representation-learning benchmarks on PyTorch Lightning."""

from mirbench import provenance as _provenance

__version__ = "0.1.0"

_provenance.install()  # RunRecords hash the code this process ran, not the disk when they are written


def __getattr__(name: str):
    # `mirbench.evaluate(...)` (mirbench.bench.evaluate.evaluate) without importing torch for `import mirbench`
    if name == "evaluate":
        from mirbench.bench.evaluate import evaluate

        return evaluate
    raise AttributeError(f"module 'mirbench' has no attribute {name!r}")

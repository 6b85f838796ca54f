"""Old path of :mod:`mirbench.bench.figures.plots`, kept for ``bench/commands.py`` until it imports the new one."""

from mirbench.bench.figures.plots import make_plots  # noqa: F401

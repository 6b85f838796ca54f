"""The data sets' sources: one module per data set, each its card constants and ``load(root, ...) -> Source``.

A source only parses a data set's real files (or, for the embedded corpus and score-video set, their built
folders) into one typed :class:`~mirbench.data.sources.base.Source`; the datamodules of
:mod:`mirbench.data` build their tables from it. :mod:`mirbench.data.registry` discovers the modules here.
"""

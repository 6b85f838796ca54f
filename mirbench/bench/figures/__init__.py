"""Figures of the tables, drawn from the same records as the numbers: never part of a record's code hash.

``plots.make_plots`` draws a spec's ``plots:`` (kinds ``lines``, ``bars``, ``grouped_bars``) and calls the
paper-specific ``kind: function`` figures: :mod:`.kimliem2022`, :mod:`.nakatsuka2024`, :mod:`.projections`.
"""

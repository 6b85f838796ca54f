"""What every mirbench datamodule tells the model: :class:`DataInfo`, linked by the CLI.

The CLI links ``data.data_info`` into ``model.init_args.data_info`` when both are instantiated,
so facts such as the tag vocabulary are written once, by the data.
"""

from __future__ import annotations

from dataclasses import dataclass

from mirbench.audio.decode import SAMPLE_RATE

# The tag categories of Lee et al. 2020, in the order of their disentangled sub-spaces (the Last.fm top-50 tags
# of MSD grouped as genre / mood / instrument / era; the embedded corpus labels its tags the same way).
LEE2020_CATEGORIES: tuple[str, ...] = ("genre", "mood", "instrument", "era")


@dataclass(frozen=True)
class DataInfo:
    """Facts about a data set that a method needs to build its heads.

    ``tag_names``/``tag_categories`` describe a multi-label vocabulary (category of each tag, e.g.
    ``genre``); ``categories`` orders the categories (the disentangled sub-spaces of Lee et al. 2020).
    ``class_names`` describe a single-label task. ``input_shape`` is one example's feature shape.
    """

    tag_names: tuple[str, ...] = ()
    tag_categories: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    input_shape: tuple[int, ...] = ()
    sample_rate: int = SAMPLE_RATE

    @property
    def num_tags(self) -> int:
        return len(self.tag_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def tags_of(self, category: str) -> list[int]:
        """Indices of the tags in one category."""
        return [i for i, c in enumerate(self.tag_categories) if c == category]

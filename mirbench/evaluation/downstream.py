"""The downstream data of the Kim & Liem (ISMIR 2022) protocol: songs with genre labels (GTZAN), tags (MTAT) and
a listening log (Echonest) from the real data sets (:class:`RealDownstream`, the `real` profile of
``benchmarks/tables/hdpgmm2022.yaml``); on the embedded corpus the song datamodule's ``downstream_inputs()`` plays
all three roles.

Real data sets, as in docs/protocols.md#kim-probes, each read in its published layout and with features cached by
``mirbench prepare <id> --feature frames_kim2022`` (``mel_kim2022`` for the KIM rows; the CLMR rows decode audio):

- GTZAN: the fault-filtered artist split (443 / 197 / 290; ``GTZAN_split/{train,valid,test}_filtered.txt``);
- MTAT: the split of Lee et al. 2017 (15,244 / 1,529 / 4,332 clips; ``MTAT_split``), top-50 tags;
- Echonest: the Taste Profile filtered as Liang et al. 2018 (users with >= 5 items), items with features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirbench.data.base import DownstreamSet
from mirbench.data.sources.base import SPLITS


def _split_songs(dm, view: str):
    """The readable songs of the train/valid/test splits of a FeatureDataModule, and their ``(J,)`` split."""
    from mirbench.data.song_views import FeatureSongs

    parts = [FeatureSongs.of_split(dm, s, view) for s in SPLITS]
    rows = np.concatenate([p.rows for p in parts])
    split = np.concatenate([np.full(len(p), s) for p, s in zip(parts, SPLITS)])
    return FeatureSongs(dm, rows, view), split


@dataclass
class RealDownstream:
    """Where the real GTZAN, MTAT and Echonest copies are (``None``: ``$MIRBENCH_DATA/<id>``) and how to read them.

    ``gtzan_split``: ``filtered`` (the paper's; lists in ``gtzan_split_dir``, default ``<root>/GTZAN_split``) or
    ``stratified`` (a seeded 50/25/25 per-genre split of the excerpts on disk). ``mtat_split_dir``: the
    ``MTAT_split`` files (default ``<root>/MTAT_split``). ``echonest_audio_root``: the MSD previews of the
    Taste Profile items (only read by methods on audio; default ``<root>/audio``). ``echonest_min_user_items``:
    Liang et al.'s user filter (Kim & Liem: 5).
    """

    gtzan_root: str | None = None
    gtzan_split: str = "filtered"
    gtzan_split_dir: str | None = None
    mtat_root: str | None = None
    mtat_split_dir: str | None = None
    echonest_root: str | None = None
    echonest_audio_root: str | None = None
    echonest_min_user_items: int = 5

    def load(self, view: str) -> dict[str, DownstreamSet]:
        """``{"genre": GTZAN, "tags": MTAT, "recommendation": Echonest}`` in ``view``."""
        return {"genre": self.gtzan(view), "tags": self.mtat(view), "recommendation": self.echonest(view)}

    def gtzan(self, view: str) -> DownstreamSet:
        from mirbench.data.gtzan import GTZANDataModule
        from mirbench.data.song_views import view_feature_kwargs

        dm = GTZANDataModule(root=self.gtzan_root, split=self.gtzan_split, split_dir=self.gtzan_split_dir,
                             **view_feature_kwargs(view))
        songs, split = _split_songs(dm, view)
        return DownstreamSet(name="gtzan", songs=songs, split=split, labels=dm.table.labels[songs.rows])

    def mtat(self, view: str) -> DownstreamSet:
        from mirbench.data.mtat import MTATDataModule
        from mirbench.data.song_views import view_feature_kwargs

        dm = MTATDataModule(root=self.mtat_root, split_dir=self.mtat_split_dir, **view_feature_kwargs(view))
        songs, split = _split_songs(dm, view)
        names = tuple(dm.tag_names)
        return DownstreamSet(name="mtat", songs=songs, split=split, tags=dm.table.tags[songs.rows], tag_names=names,
                          tag_categories=("",) * len(names))  # MTAT tags have no categories

    def echonest(self, view: str) -> DownstreamSet:
        """Items with features (or, on audio, with a file); users left without items are dropped."""
        from mirbench.data.echonest import EchonestDataModule
        from mirbench.data.song_views import FeatureSongs, view_feature_kwargs

        dm = EchonestDataModule(root=self.echonest_root, min_user_items=self.echonest_min_user_items,
                                audio_root=self.echonest_audio_root, **view_feature_kwargs(view))
        songs = FeatureSongs.of_split(dm, "all", view)
        plays = dm.interactions.matrix.tocsc()[:, songs.rows].tocsr()
        plays = plays[np.asarray(plays.getnnz(axis=1)) > 0]
        return DownstreamSet(name="echonest", songs=songs, plays=plays)

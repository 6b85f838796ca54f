"""Training examples for metric learning drawn from a clip -> track -> tags table (Lee et al. 2020).

Category triplets: anchor and positive share >= 1 tag of a category, the negative shares none of
the anchor's tags in it (ICASSP 2020 Sec. 2.3: "similar" = shares a tag of the category). Track
triplets (track regularisation): anchor and positive are two excerpts of one track, the negative
an excerpt of another track.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


class ClipDataset(Dataset):
    """One item per clip: ``{"x", "tags", "track", "clip"}``; ``transform`` maps a stored array to ``x``."""

    def __init__(self, features, clips: np.ndarray, clip_track: np.ndarray, track_tags: np.ndarray, transform=None):
        self.features, self.clips = features, np.asarray(clips)
        self.clip_track, self.track_tags = clip_track, track_tags
        self.transform = transform or (lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32)))

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict:
        clip = int(self.clips[i])
        track = int(self.clip_track[clip])
        return {"x": self.transform(self.features[clip]), "tags": torch.from_numpy(self.track_tags[track].astype(np.float32)),
                "track": track, "clip": clip}


class TripletSampler:
    """Draws category and track triplets of clip indices among ``clips`` (Lee et al.: a category triplet's anchor and
    positive tracks share a tag of the category, the negative has none of the anchor's tags of it; a track triplet's
    anchor and positive are two clips of one track).

    Sized for MSD (10^5 tracks, 10^6 clips): clips are grouped by track with one stable sort, and negatives are
    found on a per-category tag matrix of the split's tracks.
    """

    def __init__(self, clips: np.ndarray, clip_track: np.ndarray, track_tags: np.ndarray, tag_categories, categories):
        self.clips = np.asarray(clips)
        self.clip_track = clip_track
        self.track_tags = track_tags.astype(bool)
        self.categories = list(categories)
        cats = np.asarray(tag_categories)
        self.cat_cols = [np.flatnonzero(cats == c) for c in self.categories]
        owner = np.asarray(clip_track)[self.clips]
        order = np.argsort(owner, kind="stable")  # keeps each track's clips in the order of ``clips``
        tracks, starts = np.unique(owner[order], return_index=True)
        self.tracks = tracks
        self.clips_of = dict(zip(tracks.tolist(), np.split(self.clips[order], starts[1:])))
        # track triplets need two different clips of the anchor track
        self.track_anchors = tracks[np.diff(np.append(starts, len(order))) >= 2]
        split_tags = self.track_tags[tracks]
        self.tracks_with = [tracks[split_tags[:, j]] for j in range(track_tags.shape[1])]
        self.cat_tags = [split_tags[:, cols] for cols in self.cat_cols]  # (tracks, |category|) per category
        self.anchors_of = [tracks[t.any(1)] for t in self.cat_tags]
        empty = [c for c, a in zip(self.categories, self.anchors_of) if len(a) < 2]
        if empty:
            raise ValueError(f"too few tracks with a tag in categories {empty} to sample triplets")

    def category_triplet(self, c: int, rng: np.random.Generator) -> tuple[int, int, int]:
        cols = self.cat_cols[c]
        for _ in range(100):
            anchor = int(rng.choice(self.anchors_of[c]))
            on = self.track_tags[anchor, cols]
            tag = int(rng.choice(cols[on]))
            positives = self.tracks_with[tag][self.tracks_with[tag] != anchor]
            negatives = self.tracks[~self.cat_tags[c][:, on].any(1)]
            if len(positives) and len(negatives):
                return (self._clip(anchor, rng), self._clip(int(rng.choice(positives)), rng),
                        self._clip(int(rng.choice(negatives)), rng))
        raise RuntimeError(f"could not draw a triplet for category {self.categories[c]!r} in 100 tries")

    def _clip(self, track: int, rng: np.random.Generator, exclude: int = -1) -> int:
        options = self.clips_of[int(track)]
        if exclude >= 0 and len(options) > 1:
            options = options[options != exclude]
        return int(rng.choice(options))

    def track_triplet(self, rng: np.random.Generator) -> tuple[int, int, int]:
        if not len(self.track_anchors):
            raise ValueError("track triplets need a track with >= 2 clips in the split; every track has one")
        anchor = int(rng.choice(self.track_anchors))
        a = self._clip(anchor, rng)
        negative = int(rng.choice(self.tracks[self.tracks != anchor]))
        return a, self._clip(anchor, rng, exclude=a), self._clip(negative, rng)


class TripletDataset(Dataset):
    """``length`` random triplets per epoch: ``{"anchor","positive","negative","category"}`` (+ ``track_*``).

    Categories are drawn uniformly; item ``i`` of epoch ``e`` is reproducible from ``(seed, e, i)``.
    """

    def __init__(self, clip_dataset: ClipDataset, sampler: TripletSampler, length: int, seed: int = 0,
                 track_triplets: bool = False):
        self.data, self.sampler, self.length = clip_dataset, sampler, length
        self.seed, self.epoch, self.track_triplets = seed, 0, track_triplets

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        c = int(rng.integers(len(self.sampler.categories)))
        x = lambda clip: self.data.transform(self.data.features[clip])
        a, p, n = self.sampler.category_triplet(c, rng)
        item = {"anchor": x(a), "positive": x(p), "negative": x(n), "category": c}
        if self.track_triplets:
            ta, tp, tn = self.sampler.track_triplet(rng)
            item.update({"track_anchor": x(ta), "track_positive": x(tp), "track_negative": x(tn)})
        return item


class EpochIndexSampler(Sampler):
    """Yields ``epoch * length + i`` for ``i < length``: a :class:`TripletDataset` draws new triplets each epoch.

    Lightning calls ``set_epoch`` on a DataLoader's sampler at every epoch start (in the main process, so
    it works with persistent workers, where ``TripletDataset.set_epoch`` on the loader's copy would not).
    """

    def __init__(self, length: int):
        self.length, self.epoch = int(length), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        return iter(range(self.epoch * self.length, (self.epoch + 1) * self.length))

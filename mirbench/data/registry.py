"""The real-format data sets mirbench knows: id -> module, datamodule and default feature."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class DatasetEntry:
    id: str
    module: str
    datamodule: str
    default_feature: str
    title: str
    needs_audio_root: bool = False  # audio lives outside --root (MSD previews shared by several sets)

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def datamodule_class(self):
        return getattr(self.load(), self.datamodule)


DATASETS: dict[str, DatasetEntry] = {
    e.id: e
    for e in [
        DatasetEntry("msd_lastfm", "mirbench.data.msd_lastfm", "MSDLastfmDataModule", "logmel_lee2020",
                     "Million Song Dataset / Last.fm top-50 tags (Lee et al. 2020 split)", True),
        DatasetEntry("dimsim", "mirbench.data.dimsim", "DimSimDataModule", "logmel_lee2020",
                     "Dim-Sim triplets on 3-s MSD clips (Lee et al. 2020)", True),
        DatasetEntry("mtat", "mirbench.data.mtat", "MTATDataModule", "frames_kim2022",
                     "MagnaTagATune top-50 (Lee et al. 2017 split)"),
        DatasetEntry("gtzan", "mirbench.data.gtzan", "GTZANDataModule", "frames_kim2022",
                     "GTZAN genres (fault-filtered split)"),
        DatasetEntry("echonest", "mirbench.data.echonest", "EchonestDataModule", "frames_kim2022",
                     "Echo Nest Taste Profile play counts on MSD tracks", True),
        DatasetEntry("yt8m_mv", "mirbench.data.yt8m_musicvideo", "YT8MMusicVideoDataModule", "yt8m",
                     "YouTube-8M music videos: paired audio/visual features"),
        DatasetEntry("scorevideo", "mirbench.data.scorevideo.datamodule", "ScoreVideoDataModule", "yt8m",
                     "embedded score videos (rendered corpus pieces) in YouTube-8M's frame-level layout"),
    ]
}


def get(dataset_id: str) -> DatasetEntry:
    try:
        return DATASETS[dataset_id]
    except KeyError:
        raise KeyError(f"unknown data set {dataset_id!r}; known: {', '.join(DATASETS)} (and 'corpus')") from None

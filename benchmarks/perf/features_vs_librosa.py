"""Feature extraction, mirbench vs librosa called directly with the authors' recipes, on real GTZAN audio.

For each feature (``frames_kim2022``: Kim & Liem's 52-d MFCC+chroma+onset frames; ``mel_kim2022``: the
KIM baseline's dB mel; ``logmel_lee2020``: Lee et al.'s log mel), the same clips go through the mirbench
extractor, the librosa recipe and the previous mirbench code (torch STFT and mel product, kept here as
functions), interleaved round by round (``_timing.interleaved``). Headline rows: seconds per clip, mirbench vs
librosa (target: mirbench's time <= librosa's). Lines: clips/s and the ratio to librosa (< 1 = faster than librosa); the
largest difference to librosa, relative to each column's scale, is recorded too.

Audio: the 30-s GTZAN FLACs of ``../shared/data/gtzan_mini`` (skipped when absent).

    python -m benchmarks.perf.features_vs_librosa [--clips 100 --repeats 3 --threads 1 --out FILE]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import librosa
import numpy as np
import torch

from benchmarks.perf._timing import headline, interleaved, report, write
from mirbench.audio import features as F

QUICK_ARGS = ["--clips", "10", "--repeats", "3"]
SR = 22050


def librosa_frames_kim2022(y: np.ndarray) -> np.ndarray:
    """Kim & Liem's ``audio_process.process_track`` with librosa throughout."""
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=SR))
    m = librosa.feature.mfcc(S=mel_db, sr=SR, n_mfcc=13)
    return np.r_[m, librosa.feature.delta(m, order=1), librosa.feature.delta(m, order=2),
                 np.log(np.maximum(librosa.feature.chroma_stft(S=power, sr=SR), 1e-8)),
                 np.log(np.maximum(librosa.onset.onset_strength(S=mel_db, sr=SR), 1e-8))[None]].T


def librosa_mel_kim2022(y: np.ndarray) -> np.ndarray:
    return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=256)).T


def librosa_logmel_lee2020(y: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=512, n_mels=128, power=1.0)
    return np.log10(1 + 10 * mel).T[: len(y) // 512]


def _torch_power(y: np.ndarray, n_fft: int, hop: int, power: float) -> torch.Tensor:
    """The previous mirbench STFT: ``torch.stft`` in float32 (agrees with librosa to float32 rounding)."""
    spec = torch.stft(torch.from_numpy(y), n_fft, hop, window=torch.hann_window(n_fft), center=True,
                      pad_mode="constant", return_complex=True)
    return spec.abs() ** power


def _torch_mel(power: torch.Tensor, n_fft: int, n_mels: int) -> np.ndarray:
    return (torch.from_numpy(F.mel_filterbank(SR, n_fft, n_mels).copy()) @ power).numpy()


def previous_frames_kim2022(y: np.ndarray) -> np.ndarray:
    """The mirbench code before the numpy/scipy path: torch STFT and mel product, row-ordered ``chroma_stft`` input."""
    with torch.no_grad():
        power_t = _torch_power(y, 2048, 512, 2)
        mel = _torch_mel(power_t, 2048, 128)
        power = power_t.contiguous().numpy()
    mel_db = librosa.power_to_db(mel)
    mfcc = librosa.feature.mfcc(S=mel_db, sr=SR, n_mfcc=13)
    d1, d2 = librosa.feature.delta(mfcc, order=1), librosa.feature.delta(mfcc, order=2)
    chroma = np.log(np.maximum(librosa.feature.chroma_stft(S=power, sr=SR), 1e-8))
    onset = np.log(np.maximum(librosa.onset.onset_strength(S=mel_db, sr=SR), 1e-8))[None]
    return np.ascontiguousarray(np.concatenate([mfcc, d1, d2, chroma, onset]).T, dtype=np.float32)


def previous_mel_kim2022(y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        mel = _torch_mel(_torch_power(y, 1024, 256, 2), 1024, 128)
    return np.ascontiguousarray(librosa.power_to_db(mel).T, dtype=np.float32)


def previous_logmel_lee2020(y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        spec = _torch_power(y, 1024, 512, 1)[:, : len(y) // 512]
        mel = torch.from_numpy(F.mel_filterbank(SR, 1024, 128).copy()) @ spec
        return torch.log10(1.0 + 10.0 * mel).T.contiguous().numpy()


HEADLINE = {"frames_kim2022": "Kim & Liem 52-d frames, GTZAN clips", "mel_kim2022": "KIM dB mel",
            "logmel_lee2020": "Lee 2020 log-mel"}  # headline rows: seconds per clip

FEATURES: dict[str, dict[str, Callable[[np.ndarray], np.ndarray]]] = {
    "frames_kim2022": {"mirbench": F.frames_kim2022, "librosa": librosa_frames_kim2022,
                       "mirbench_previous": previous_frames_kim2022},
    "mel_kim2022": {"mirbench": F.mel_kim2022, "librosa": librosa_mel_kim2022, "mirbench_previous": previous_mel_kim2022},
    "logmel_lee2020": {"mirbench": F.logmel_lee2020, "librosa": librosa_logmel_lee2020,
                       "mirbench_previous": previous_logmel_lee2020},
}


def max_rel_diff(a: np.ndarray, ref: np.ndarray) -> float:
    """Largest |a - ref| per column over max(|ref| of the column, 1)."""
    return float((np.abs(a - ref).max(0) / np.maximum(np.abs(ref).max(0), 1)).max())


def main(argv: list[str] | None = None) -> int:
    from mirbench.audio.decode import load_audio
    from mirbench.paths import shared_data_dir

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3, help="interleaved passes over the clips")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--features", default=",".join(FEATURES))
    p.add_argument("--out", default=None, help="JSON record (default results/perf/features_vs_librosa.json)")
    a = p.parse_args(argv)
    paths = sorted((shared_data_dir() / "gtzan_mini").rglob("*.flac"))
    if not paths:
        print(f"skipped: no GTZAN FLACs under {shared_data_dir() / 'gtzan_mini'}")
        return 0
    torch.set_num_threads(a.threads)
    step = max(1, len(paths) // a.clips)
    clips = [load_audio(q) for q in paths[::step][: a.clips]]
    F.warm_up()
    headlines: list[dict] = []
    record: dict = {"config": vars(a), "clips": len(clips), "seconds_of_audio": sum(len(y) for y in clips) / SR,
                    "features": {}}
    for name in a.features.split(","):
        cases = FEATURES[name]
        ref = [cases["librosa"](y) for y in clips]
        diff = {k: max(max_rel_diff(fn(y), r) for y, r in zip(clips, ref)) for k, fn in cases.items()}
        # A B C rotated round by round (_timing.interleaved), each round every clip: load swings hit every side
        times = interleaved({k: (lambda fn=fn: [fn(y) for y in clips]) for k, fn in cases.items()}, a.repeats)
        rec = report(f"{name} on {len(clips)} GTZAN clips, {a.threads} thread(s)", times, "librosa",
                     unit_work=len(clips), unit="clips")
        rec["max_rel_diff_to_librosa"] = diff
        print(f"{name} | max relative difference to librosa: "
              + ", ".join(f"{k} {v:.2g}" for k, v in diff.items() if k != "librosa"))
        record["features"][name] = rec
        ours, peer = (rec["summary"][k]["median"] / len(clips) for k in ("mirbench", "librosa"))
        per_round = rec["ratio_to_baseline"]["mirbench"]["median"]
        # met by the per-round ratio (each round times both sides under the same load), not the two medians
        headlines.append(headline(HEADLINE[name], ours, "librosa", peer, ">= 1.0x librosa", per_round <= 1.0,
                                  note=f"s per clip; median per-round time ratio {per_round:.2f}x"))
    record["headline"] = headlines
    write(record, "features_vs_librosa", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

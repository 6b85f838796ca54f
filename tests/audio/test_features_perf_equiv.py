"""The fast feature code (blocked float64 scipy STFT, numpy mel product, frame-major spectra) against the previous
code (torch STFT and mel product, kept in the benchmark as the reference) and against librosa: librosa's STFT bit
for bit, the features to the float32 error of the mel product's summation order."""

import librosa
import numpy as np
import pytest
import scipy.fft

from benchmarks.perf.features_vs_librosa import FEATURES, SR, max_rel_diff
from mirbench.audio.decode import load_audio
from mirbench.audio.features import mel_filterbank, stft_magnitude

U = float(np.finfo(np.float32).eps) / 2  # float32 unit roundoff, 2**-24
# (n_fft, hop, power) of each feature's STFT
LOG_ULPS = 4  # numpy's float32 (SIMD) log / log10 are validated to within 4 ulp (its test_umath_accuracy)
STFT = {"frames_kim2022": (2048, 512, 2), "mel_kim2022": (1024, 256, 2), "logmel_lee2020": (1024, 512, 1)}


def mel_order_bound(name: str, y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per element of ``ref``: the largest |ours - librosa| that another summation order of the float32 mel product
    can cause (both take the same STFT bits; OpenBLAS picks the order by CPU kernel and operand layout).

    A float32 dot product of ``n`` non-negative terms is within ``n u`` of exact, relative, in any order (``n``
    product and sum roundings, fused or not), so two orders of mel bin ``m`` (``n_m`` filter taps) differ by at
    most ``2 n_m u`` relative. That is carried to first order through each feature's later steps, plus each
    side's own roundings there (inputs that differ round differently).
    """
    n_fft, hop, power = STFT[name]
    fb = mel_filterbank(SR, n_fft, 128)
    rel = 2 * (fb > 0).sum(1) * U  # (128,) relative difference of each mel bin between two orders
    log_round = 2 * LOG_ULPS * U * np.abs(ref)  # the final log's rounding, each side
    if name == "logmel_lee2020":  # d log10(1 + 10 M) = 10 dM / (ln 10 (1 + 10 M)) <= rel / ln 10; 10 M and 1 + 10 M
        return rel / np.log(10) + 2 * 2 * U / np.log(10) + log_round  # round once each, each side
    db_step = 10 / np.log(10) * rel  # power_to_db: 10 log10(M) moves 10 / ln 10 x relative; its clips are 1-Lipschitz
    if name == "mel_kim2022":
        return db_step + log_round + 2 * U * np.abs(ref)  # and the x 10's rounding
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(
        S=np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** power, sr=SR))  # (128, T)
    d_db = db_step[:, None] + 2 * (LOG_ULPS + 1) * U * np.abs(mel_db)
    dct = np.abs(scipy.fft.dct(np.eye(128), type=2, norm="ortho", axis=0)[:13])  # librosa's MFCC is this DCT
    # the float32 DCT (an FFT) errs by about log2(n) u x sum |terms| on each side
    mfcc = dct @ d_db + 2 * np.log2(128) * U * (dct @ np.abs(mel_db))  # (13, T)
    t = mel_db.shape[1]
    w1 = np.abs(librosa.feature.delta(np.eye(t), order=1, axis=0))  # the deltas are linear in time: their weights
    w2 = np.abs(librosa.feature.delta(np.eye(t), order=2, axis=0))
    d1, d2 = mfcc @ w1, mfcc @ w2  # (13, T): |W| carries each frame's bound to the output frames
    chroma = np.zeros((12, t))  # chroma_stft takes the same power bits on both sides: only the final rounding
    # onset: mean over bands of rectified first differences of dB, then log: |d log x| = |dx| / x, x >= exp(ref)
    onset = 2 * d_db.mean(0).max() / np.exp(ref[:, 51])[None]
    return np.concatenate([mfcc, d1, d2, chroma, onset]).T + log_round + 2 * U * np.abs(ref)


@pytest.mark.parametrize("name", list(FEATURES))
def test_new_feature_code_equals_previous_and_librosa(name, one_per_genre):
    cases = FEATURES[name]
    for path in one_per_genre[:3]:
        y = load_audio(path)[: SR * 12]
        a, b, ref = cases["mirbench"](y), cases["mirbench_previous"](y), cases["librosa"](y)
        assert a.shape == b.shape == ref.shape and a.dtype == np.float32 and a.flags.c_contiguous
        # float32 rounding of the previous float32 torch STFT; measured up to 6.4e-6 (mel_kim2022) on 10 GTZAN clips
        # under OpenBLAS SkylakeX / Haswell / Sandybridge / Prescott and ATen AVX512 / AVX2 / default
        assert max_rel_diff(a, b) < 1e-5
        # same STFT bits; only the mel product's summation order differs (kernel-dependent: 3e-8 relative on
        # SkylakeX, 1.6e-6 on Haswell), within its derived float32 bound (20-100x the errors measured)
        excess = np.abs(a.astype(np.float64) - ref) - mel_order_bound(name, y, ref)
        assert excess.max() <= 0, (name, path.name, np.unravel_index(excess.argmax(), excess.shape))


@pytest.mark.parametrize("n_fft,hop", [(2048, 512), (1024, 256), (1024, 512)])
def test_stft_magnitude_is_librosas_bit_for_bit(n_fft, hop, one_per_genre):
    y = load_audio(one_per_genre[4])[: SR * 7 + 123]  # a length that is not a whole number of hops or blocks
    ours = stft_magnitude(y, n_fft, hop)
    assert ours.flags.f_contiguous and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)))

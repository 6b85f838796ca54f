"""The fast feature code (blocked float64 scipy STFT, numpy mel product, frame-major spectra) against the previous
code (torch STFT and mel product, kept in the benchmark as the reference) and against librosa: librosa's STFT bit
for bit, the features to float32 rounding."""

import librosa
import numpy as np
import pytest

from benchmarks.perf.features_vs_librosa import FEATURES, max_rel_diff
from mirbench.audio.decode import load_audio
from mirbench.audio.features import stft_magnitude

SR = 22050


@pytest.mark.parametrize("name", list(FEATURES))
def test_new_feature_code_equals_previous_and_librosa(name, one_per_genre):
    cases = FEATURES[name]
    for path in one_per_genre[:3]:
        y = load_audio(path)[: SR * 12]
        a, b, ref = cases["mirbench"](y), cases["mirbench_previous"](y), cases["librosa"](y)
        assert a.shape == b.shape == ref.shape and a.dtype == np.float32 and a.flags.c_contiguous
        assert max_rel_diff(a, b) < 1e-5  # float32 rounding of the previous float32 torch STFT
        assert max_rel_diff(a, ref) <= 2e-7  # same STFT bits; only the mel product's summation order differs


@pytest.mark.parametrize("n_fft,hop", [(2048, 512), (1024, 256), (1024, 512)])
def test_stft_magnitude_is_librosas_bit_for_bit(n_fft, hop, one_per_genre):
    y = load_audio(one_per_genre[4])[: SR * 7 + 123]  # a length that is not a whole number of hops or blocks
    ours = stft_magnitude(y, n_fft, hop)
    assert ours.flags.f_contiguous and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)))

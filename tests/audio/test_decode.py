"""Decoding real GTZAN audio (FLAC, and the same samples written back as WAV, AU, MP3)."""

import numpy as np
import pytest
import soundfile as sf
import soxr

from mirbench.audio.decode import AudioDecodeError, audio_info, load_audio, resample


@pytest.fixture(scope="module")
def clip(gtzan_flacs):
    path = gtzan_flacs[0]
    ref, sr = sf.read(path, dtype="float32")
    return path, ref, sr


def test_flac_decodes_to_the_stored_samples(clip):
    path, ref, sr = clip
    assert sr == 22050 and ref.ndim == 1
    y = load_audio(path)
    assert y.dtype == np.float32 and y.shape == ref.shape == (661794,)
    np.testing.assert_array_equal(y, ref)
    assert audio_info(path) == (22050, 1, 661794)


@pytest.mark.parametrize("fmt", ["WAV", "AU"])
def test_pcm_layouts_are_lossless(clip, tmp_path, fmt):
    path, ref, sr = clip
    out = tmp_path / f"blues.00000.{fmt.lower()}"
    sf.write(out, ref, sr, format=fmt, subtype="PCM_16")  # GTZAN's own formats (16-bit PCM)
    np.testing.assert_array_equal(load_audio(out), ref)


def test_mp3_decodes_close(clip, tmp_path):
    path, ref, sr = clip
    out = tmp_path / "x.mp3"
    sf.write(out, ref[: sr * 5], sr, format="MP3")
    y = load_audio(out)
    assert abs(len(y) - sr * 5) < 3000 and np.isfinite(y).all()  # MP3 encoder/decoder delay


def test_resampling_matches_librosa_soxr_hq(clip, tmp_path):
    path, ref, sr = clip
    y = load_audio(path, sr=16000)
    assert y.shape == (int(np.ceil(len(ref) * 16000 / sr)),)  # librosa.resample's length rule
    direct = soxr.resample(ref, sr, 16000, quality="HQ")
    # tol: the same soxr HQ resampler on the same float32 samples (|y| <= 1): a few u (6e-8) if a conversion differs
    np.testing.assert_allclose(y[: len(direct)], direct[: len(y)], atol=1e-6)
    up = tmp_path / "st.wav"
    sf.write(up, np.stack([ref, 0.5 * ref], 1)[: sr * 4], sr)
    st = load_audio(up, sr=44100, mono=False)
    assert st.shape == (2, 4 * 44100)
    # tol: the WAV is 16-bit PCM: ref and 0.5 ref are each quantised within half a step (2^-16), so they differ
    # by <= 1.5 x 2^-16 = 2.3e-5
    np.testing.assert_allclose(st[1], 0.5 * st[0], atol=1e-4)
    # tol: the float32 mean of two channels, the same two samples: within u (6e-8) of |y| <= 1
    np.testing.assert_allclose(load_audio(up, sr=44100), st.mean(0), atol=1e-6)
    assert resample(ref, sr, sr) is ref


def test_offset_and_duration(clip):
    path, ref, sr = clip
    y = load_audio(path, offset=10.0, duration=3.0)
    np.testing.assert_array_equal(y, ref[10 * sr : 13 * sr])
    with pytest.raises(AudioDecodeError, match="beyond the end"):
        load_audio(path, offset=31.0)


def _corrupt(tmp_path, clip):
    path, ref, sr = clip
    flac = path.read_bytes()
    sf.write(tmp_path / "ok.wav", ref, sr, subtype="PCM_16")
    sf.write(tmp_path / "ok.au", ref, sr, subtype="PCM_16")
    files = {
        "garbage.wav": np.random.default_rng(0).bytes(4096),
        "header_only.flac": flac[:200],
        "half.flac": flac[: len(flac) // 2],
        "half.wav": (tmp_path / "ok.wav").read_bytes()[:300_000],
        "half.au": (tmp_path / "ok.au").read_bytes()[:300_000],
        "empty.wav": b"",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return [tmp_path / n for n in files] + [tmp_path / "missing.wav"]


def test_corrupt_files_raise_with_the_path(clip, tmp_path):
    for bad in _corrupt(tmp_path, clip):
        with pytest.raises(AudioDecodeError) as err:
            load_audio(bad)
        assert str(bad) in str(err.value) and err.value.path == str(bad)
        assert "re-download" in str(err.value)  # says what to do

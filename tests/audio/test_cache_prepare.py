"""Feature cache and prepare_features on real audio, with corrupt and missing files in the list."""

import json

import numpy as np
import pytest
import soundfile as sf

from mirbench.audio.cache import FeatureCache
from mirbench.audio.features import logmel_lee2020
from mirbench.audio.prepare import AudioItem, prepare_features, read_failures


def test_cache_roundtrip_and_resume(tmp_path):
    cache = FeatureCache(tmp_path / "c", meta={"feature": "f"})
    a = np.arange(12, dtype=np.float16).reshape(4, 3)
    cache.put("0/some clip-1-30.mp3", a)
    cache.put("TRAAAAA", a[:2])
    cache.flush()
    again = FeatureCache(tmp_path / "c", meta={"feature": "f"})
    assert again.ids() == ["0/some clip-1-30.mp3", "TRAAAAA"]
    x = again.load("0/some clip-1-30.mp3")
    assert isinstance(x, np.memmap) and x.dtype == np.float16
    np.testing.assert_array_equal(x, a)
    assert again.entry("TRAAAAA").frames == 2 and again.entry("TRAAAAA").dim == 3
    assert "/" not in again.relpath("0/a").split("/", 2)[-1]
    with pytest.raises(KeyError, match="mirbench prepare"):
        again.load("nope")
    with pytest.raises(ValueError, match="different settings"):
        FeatureCache(tmp_path / "c", meta={"feature": "other"})


@pytest.fixture()
def items(gtzan_flacs, tmp_path):
    good = [AudioItem(p.stem, str(p), 0.0, 3.0) for p in gtzan_flacs[:5]]
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF" + np.random.default_rng(1).bytes(2000))
    half = tmp_path / "half.au"
    sf.write(half, np.zeros(22050, np.float32), 22050, format="AU", subtype="PCM_16")
    half.write_bytes(half.read_bytes()[:20000])
    bad = [
        AudioItem("corrupt", str(tmp_path / "corrupt.wav")),
        AudioItem("truncated", str(half)),
        AudioItem("missing", str(tmp_path / "missing.flac")),
    ]
    return good[:2] + bad + good[2:]


@pytest.mark.parametrize("workers", [1, 2])
def test_prepare_reports_failures_and_resumes(items, tmp_path, workers):
    out = tmp_path / "features"
    rep = prepare_features(items, out, logmel_lee2020, workers=workers, progress=False)
    assert (rep.computed, rep.cached, rep.failed, rep.total) == (5, 0, 3, 8)
    assert {f["item_id"] for f in rep.failures} == {"corrupt", "truncated", "missing"}
    assert {f["item_id"] for f in read_failures(out)} == {"corrupt", "truncated", "missing"}
    assert json.loads((out / "report.json").read_text())["failed"] == 3
    cache = FeatureCache(out)
    assert sorted(cache.ids()) == sorted(it.item_id for it in items if it.duration)
    x = cache.load(items[0].item_id)
    assert x.shape == (129, 128) and x.dtype == np.float16
    # tol: the cache stores float16: half a step, 2^-11 |x|, is <= 2e-3 for log-mel values below 8 (log10(1 + 10 mel)
    # of audio in [-1, 1] stays below ~4)
    np.testing.assert_allclose(x, logmel_lee2020(sf.read(items[0].path, frames=66150, dtype="float32")[0]), atol=2e-3)

    # a killed run: one array on disk but not in the index, one missing entirely
    (out / cache.relpath(items[1].item_id)).unlink()
    index = (out / "index.csv").read_text().splitlines()
    (out / "index.csv").write_text("\n".join(l for l in index if not l.startswith(items[-1].item_id)) + "\n")
    rep2 = prepare_features(items, out, "logmel_lee2020", workers=workers, progress=False)
    assert (rep2.computed, rep2.cached, rep2.failed) == (1, 4, 3)
    assert len(FeatureCache(out)) == 5 and all(FeatureCache(out).has_file(i) for i in FeatureCache(out).ids())

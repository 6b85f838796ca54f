"""Audio: decoding (:mod:`.decode`), frame features (:mod:`.features`), a torch front end
(:mod:`.frontend`), the on-disk feature cache (:mod:`.cache`) and parallel preparation (:mod:`.prepare`)."""

from mirbench.audio.decode import SAMPLE_RATE, AudioDecodeError, load_audio
from mirbench.audio.features import FEATURES, frames_kim2022, logmel_lee2020, normalize_lee2020

__all__ = ["SAMPLE_RATE", "AudioDecodeError", "load_audio", "FEATURES", "frames_kim2022", "logmel_lee2020", "normalize_lee2020"]

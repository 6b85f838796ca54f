"""The embedded corpus's tag vocabulary, shaped like MSD/Last.fm's four categories (Lee et al. 2020).

Genre = style, dance-tune type or folk-song region (plus umbrella tags, so tags overlap as Last.fm's
do); mood = minor mode, slow/fast tempo and soft/loud dynamics, each tagged only when it stands out
(as Last.fm mood tags are sparse: a major-key, moderate, medium-loud piece has no mood tag);
instrument = the General MIDI families used to render the piece; era = the period of the repertoire
(the dance-tune collections were published in 1850 and 1883).
"""

from __future__ import annotations

from mirbench.data.base import LEE2020_CATEGORIES

CATEGORIES: tuple[str, ...] = LEE2020_CATEGORIES

GENRE_TAGS = (
    "chorale", "mass", "madrigal", "ars nova", "string quartet",
    "reel", "jig", "hornpipe", "strathspey", "air",
    "chinese folk", "german folk", "lorraine folk", "luxembourg folk",
    # umbrella tags
    "sacred", "vocal polyphony", "dance",
)
MOOD_TAGS = ("minor", "slow", "fast", "soft", "loud")
INSTRUMENT_TAGS = (
    "piano", "harpsichord", "organ", "accordion", "guitar", "violin", "cello", "strings",
    "choir", "flute", "woodwind", "brass",
)
ERA_TAGS = ("medieval", "renaissance", "baroque", "classical", "19th century", "traditional")

TAGS: tuple[str, ...] = GENRE_TAGS + MOOD_TAGS + INSTRUMENT_TAGS + ERA_TAGS
TAG_CATEGORIES: tuple[str, ...] = (
    ("genre",) * len(GENRE_TAGS) + ("mood",) * len(MOOD_TAGS)
    + ("instrument",) * len(INSTRUMENT_TAGS) + ("era",) * len(ERA_TAGS)
)

UMBRELLA = {
    "chorale": ("sacred", "vocal polyphony"),
    "mass": ("sacred", "vocal polyphony"),
    "madrigal": ("vocal polyphony",),
    "ars nova": ("vocal polyphony",),
    "reel": ("dance",), "jig": ("dance",), "hornpipe": ("dance",), "strathspey": ("dance",),
}

# General MIDI program (0-based) -> instrument tag
PROGRAM_FAMILY = {
    0: "piano", 6: "harpsichord", 19: "organ", 21: "accordion", 24: "guitar", 25: "guitar",
    40: "violin", 41: "strings", 42: "cello", 48: "strings", 52: "choir", 53: "choir",
    73: "flute", 74: "flute", 68: "woodwind", 70: "woodwind", 71: "woodwind",
    56: "brass", 57: "brass", 60: "brass",
}

# Tempo classes by quarter-note BPM, and dynamics by MIDI velocity (between: no tag).
SLOW_BELOW_BPM = 90.0
FAST_ABOVE_BPM = 130.0
SOFT_BELOW_VELOCITY = 64
LOUD_ABOVE_VELOCITY = 92


def mood_tags(mode: str, bpm: float, velocity: int) -> list[str]:
    """The mood tags that stand out: minor mode, slow or fast tempo, soft or loud dynamics."""
    out = ["minor"] if mode == "minor" else []
    if bpm < SLOW_BELOW_BPM:
        out.append("slow")
    elif bpm > FAST_ABOVE_BPM:
        out.append("fast")
    if velocity < SOFT_BELOW_VELOCITY:
        out.append("soft")
    elif velocity > LOUD_ABOVE_VELOCITY:
        out.append("loud")
    return out


def genre_tags(genre: str) -> list[str]:
    """The genre plus its umbrella tags."""
    if genre not in GENRE_TAGS:
        raise ValueError(f"unknown corpus genre {genre!r}; known: {GENRE_TAGS}")
    return [genre, *UMBRELLA.get(genre, ())]


def tag_vector(tags: list[str]) -> list[int]:
    """Multi-hot over :data:`TAGS`."""
    unknown = set(tags) - set(TAGS)
    if unknown:
        raise ValueError(f"unknown corpus tags {sorted(unknown)}")
    present = set(tags)
    return [int(t in present) for t in TAGS]

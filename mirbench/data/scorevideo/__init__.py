"""The embedded score-video set: the music21 corpus as "music videos" in YouTube-8M's frame-level layout.

Card
----
What: paired per-second features of rendered scores, for music <-> video retrieval (Nakatsuka et al.,
ISMIR 2024, on YT8M-MusicVideo). Each corpus piece is rendered ``renderings`` times (default 3) with
different General MIDI instruments, tempo and dynamics (the corpus's rendering plans); per second,
"audio" is the mean 128-band log-mel of the rendering (standing for VGGish-128) and "rgb" is the
score at that rendering's tempo as a piano roll (128 pitches x 8 slots = 1024, standing for the
Inception frame features). Sibling renderings share one score, so retrieval is ambiguous by design.
Size: ``n_pieces`` x ``renderings`` videos of 8-30 s (default 120 pieces requested; skipped ones are
listed in ``report.json``). Format: YouTube-8M frame-level SequenceExample TFRecords (context
``id``, ``labels``; feature lists ``rgb``/``audio`` of uint8 bytes), ``vocabulary.csv`` with
"Music video", read by the real loader (:mod:`mirbench.data.yt8m_musicvideo`).
Source / licence: the music21 corpus (BSD; scores public domain or as its ``license.txt``) and the
TimGM6mb soundfont (GPL-2, shipped with pretty_midi).
Splits: piece-disjoint. ``train_fraction`` of the pieces (stratified by source, the corpus's
:func:`~mirbench.data.corpus.build.assign_splits`) go to ``train*`` files, the rest to ``validate*``
files, where ``groups.csv`` (video -> piece) makes the loader's valid/test hash that of the piece.
Built once by ``mirbench prepare scorevideo`` (or on first use) into ``$MIRBENCH_DATA/scorevideo/<build>``.
"""

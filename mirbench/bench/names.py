"""Names that become file or folder names (``evaluate --name``, ``table --add NAME=``, table, row and profile
ids): one path component, nothing that climbs out of or escapes the folder it is written into."""

from __future__ import annotations

import os

from mirbench.bench.spec import SpecError

_SEPARATORS = tuple(s for s in ("/", "\\", os.sep, os.altsep) if s)


class UnsafeName(SpecError):
    """A name would not stay one file name inside its folder; nothing was written."""


def check_name(name: object, what: str) -> str:
    """``name`` when it is one plain path component, else :class:`UnsafeName` saying which rule it breaks.

    Refused: empty, a separator (``/`` or ``\\``), ``..`` anywhere, absolute (``/x``, ``C:x``), a leading ``.``
    (hidden files, ``.``), control characters.
    """
    text = name if isinstance(name, str) else ""
    why = ("it is empty" if not text
           else "it contains a path separator" if any(s in text for s in _SEPARATORS)
           else "it contains '..'" if ".." in text
           else "it is an absolute path" if os.path.isabs(text) or (len(text) > 1 and text[1] == ":")
           else "it starts with '.'" if text.startswith(".")
           else "it contains a control character" if any(ord(c) < 32 for c in text)
           else "")
    if why:
        raise UnsafeName(f"invalid {what} {name!r}: {why}; it becomes a file name, so give one plain name "
                         f"(letters, digits, _ . -), e.g. my_model")
    return text

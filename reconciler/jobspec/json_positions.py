"""Where a value stands in the text of a JSON document, for error positions.

Pure: text in, (line, column) out.  A value is named by its ``JsonPath``, the
keys and list indexes from the document's top, as ``jsonspec`` reports them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

JsonPath = tuple[str | int, ...]

_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def locate_json_value(text: str, where: JsonPath) -> tuple[int, int]:
    """1-based (line, column) of the value at ``where`` in valid JSON ``text``.

    Falls back to the deepest enclosing value found (at worst 1,1): a position
    is a courtesy in an error message, never a reason to fail differently.
    """
    best = 0
    for found_path, offset in _walk(text):
        if found_path == where[: len(found_path)]:
            best = offset
            if found_path == where:
                break
    line = text.count("\n", 0, best) + 1
    column = best - (text.rfind("\n", 0, best) + 1) + 1
    return line, column


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos


def _walk(text: str) -> Iterator[tuple[JsonPath, int]]:
    """Yield (path, offset) for every value of a JSON document, in document order."""
    start = _skip_ws(text, 0)
    yield (), start
    yield from _skip_value(text, start, (), [start])


def _skip_value(text: str, pos: int, path: JsonPath, end: list[int]) -> Iterator[tuple[JsonPath, int]]:
    """Walk the value at ``pos``; leave the offset just after it in ``end[0]``."""
    ch = text[pos] if pos < len(text) else ""
    if ch == "{":
        pos = _skip_ws(text, pos + 1)
        if text[pos] == "}":
            end[0] = pos + 1
            return
        while True:
            key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
            pos = _skip_ws(text, pos)
            pos = _skip_ws(text, pos + 1)  # after ':'
            yield (*path, key), pos
            yield from _skip_value(text, pos, (*path, key), end)
            pos = _skip_ws(text, end[0])
            if text[pos] == "}":
                end[0] = pos + 1
                return
            pos = _skip_ws(text, pos + 1)  # after ','
    elif ch == "[":
        pos = _skip_ws(text, pos + 1)
        if text[pos] == "]":
            end[0] = pos + 1
            return
        index = 0
        while True:
            yield (*path, index), pos
            yield from _skip_value(text, pos, (*path, index), end)
            pos = _skip_ws(text, end[0])
            if text[pos] == "]":
                end[0] = pos + 1
                return
            pos = _skip_ws(text, pos + 1)
            index += 1
    elif ch == '"':
        _, end[0] = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
    else:
        m = _SCALAR.match(text, pos)
        end[0] = m.end() if m else pos + 1

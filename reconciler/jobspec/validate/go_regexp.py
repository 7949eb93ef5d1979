"""Does Go's ``regexp.Compile`` (RE2 syntax) accept a pattern?  Its error text if not.

Pure.  Nomad compiles the target of a ``regexp`` constraint or affinity with
Go's ``regexp`` package (``Constraint.Validate``/``Affinity.Validate`` in
nomad/structs/structs.go, every supported tag).  Python's ``re`` is another
dialect (lookarounds, backreferences, possessive forms), so this module walks
the pattern with RE2's grammar instead and reports Go's own error
(``error parsing regexp: <code>: `<expr>` ``, regexp/syntax's texts).

Conservative by contract: it only reports an error Go certainly reports
(unbalanced parentheses and brackets, bad escapes, stacked or argument-less
repetition, bad repeat counts, bad ranges, Perl syntax RE2 lacks, bad POSIX
class names).  What depends on Go's Unicode tables or release (``\\p{Name}``
names, ``(?<name>`` which Go accepts from 1.22, the total size of nested
repeats) is accepted, so a pattern RE2 compiles is never rejected.
"""

from __future__ import annotations

MISSING_PAREN = "missing closing )"
UNEXPECTED_PAREN = "unexpected )"
MISSING_BRACKET = "missing closing ]"
INVALID_ESCAPE = "invalid escape sequence"
TRAILING_BACKSLASH = "trailing backslash at end of expression"
INVALID_PERL_OP = "invalid or unsupported Perl syntax"
INVALID_NAMED_CAPTURE = "invalid named capture"
INVALID_REPEAT_OP = "invalid nested repetition operator"
MISSING_REPEAT_ARGUMENT = "missing argument to repetition operator"
INVALID_REPEAT_SIZE = "invalid repeat count"
INVALID_CHAR_RANGE = "invalid character class range"

_POSIX_CLASSES = frozenset(
    ["alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word", "xdigit"]
)
_MAX_REPEAT = 1000
_HEX = "0123456789abcdefABCDEF"


class _SyntaxError(Exception):
    def __init__(self, code: str, expr: str) -> None:
        super().__init__(code)
        self.code, self.expr = code, expr


def go_regexp_error(pattern: str) -> str | None:
    """``None`` if Go compiles ``pattern`` (or this module cannot tell), else Go's error text."""
    try:
        _Parser(pattern).parse()
    except _SyntaxError as exc:
        return f"error parsing regexp: {exc.code}: `{exc.expr}`"
    return None


def _is_ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


class _Parser:
    """One left-to-right pass, raising the first error as Go's parser meets it."""

    def __init__(self, whole: str) -> None:
        self.whole = whole
        self.depth = 0  # open groups
        # What Go's parse stack holds on top: nothing, a pseudo-op (an open
        # group or a "|"), or an operand a repetition may apply to.
        self.top = "empty"

    def parse(self) -> None:
        t = self.whole
        last_repeat = ""
        while t:
            repeat = ""
            head = t[0]
            if head == "(":
                if t.startswith("(?"):
                    t = self._perl_group(t)
                else:
                    self.depth += 1
                    self.top = "pseudo"
                    t = t[1:]
            elif head == "|":
                self.top = "pseudo"
                t = t[1:]
            elif head == ")":
                if self.depth == 0:
                    raise _SyntaxError(UNEXPECTED_PAREN, self.whole)
                self.depth -= 1
                self.top = "operand"
                t = t[1:]
            elif head in "^$.":
                self.top = "operand"
                t = t[1:]
            elif head == "[":
                t = self._char_class(t)
                self.top = "operand"
            elif head in "*+?":
                before = t
                after = t[1:]
                after = self._repeat(before, after, last_repeat)
                repeat, t = before, after
            elif head == "{":
                before = t
                parsed = _parse_repeat_braces(t)
                if parsed is None:
                    self.top = "operand"  # a literal "{"
                    t = t[1:]
                else:
                    low, high, after = parsed
                    if (
                        low < 0
                        or low > _MAX_REPEAT
                        or high > _MAX_REPEAT
                        or (high >= 0 and low > high)
                    ):
                        end = after[1:] if after.startswith("?") else after
                        raise _SyntaxError(INVALID_REPEAT_SIZE, before[: len(before) - len(end)])
                    after = self._repeat(before, after, last_repeat)
                    repeat, t = before, after
            elif head == "\\":
                t = self._escape_outside_class(t)
                self.top = "operand"
            else:
                self.top = "operand"
                t = t[1:]
            last_repeat = repeat
        if self.depth:
            raise _SyntaxError(MISSING_PAREN, self.whole)

    def _repeat(self, before: str, after: str, last_repeat: str) -> str:
        if after.startswith("?"):
            after = after[1:]  # non-greedy
        if last_repeat:
            raise _SyntaxError(INVALID_REPEAT_OP, last_repeat[: len(last_repeat) - len(after)])
        if self.top in ("empty", "pseudo"):
            raise _SyntaxError(MISSING_REPEAT_ARGUMENT, before[: len(before) - len(after)])
        self.top = "operand"
        return after

    def _perl_group(self, t: str) -> str:
        if len(t) > 4 and t[2] == "P" and t[3] == "<":
            end = t.find(">")
            if end < 0:
                raise _SyntaxError(INVALID_NAMED_CAPTURE, t)
            name = t[4:end]
            if not name or any(
                c.isascii() and not (c == "_" or c.isalnum()) for c in name
            ):
                raise _SyntaxError(INVALID_NAMED_CAPTURE, t[: end + 1])
            self.depth += 1
            self.top = "pseudo"
            return t[end + 1 :]
        if t.startswith("(?<") and not t.startswith(("(?<=", "(?<!")):
            # (?<name> is a named group from Go 1.22 on, an error before: not reported.
            end = t.find(">")
            if end < 0:
                return ""  # unsure what Go makes of it: stop checking
            self.depth += 1
            self.top = "pseudo"
            return t[end + 1 :]
        rest = t[2:]
        negated, saw_flag = False, False
        while rest:
            char, rest = rest[0], rest[1:]
            if char in "imsU":
                saw_flag = True
                continue
            if char == "-" and not negated:
                negated, saw_flag = True, False
                continue
            if char in ":)" and not (negated and not saw_flag):
                if char == ":":
                    self.depth += 1
                    self.top = "pseudo"
                return rest
            break
        raise _SyntaxError(INVALID_PERL_OP, t[: len(t) - len(rest)])

    def _escape_outside_class(self, t: str) -> str:
        if len(t) >= 2:
            char = t[1]
            if char in "AzbB" or char in "dswDSW":
                return t[2:]
            if char == "C":
                raise _SyntaxError(INVALID_ESCAPE, t[:2])
            if char == "Q":
                end = t.find("\\E", 2)
                return "" if end < 0 else t[end + 2 :]
            if char in "pP":
                return _unicode_class(t)
        return _escape(t)

    def _char_class(self, whole: str) -> str:
        t = whole[1:]
        if t.startswith("^"):
            t = t[1:]
        first = True
        while not t or t[0] != "]" or first:
            first = False
            if len(t) > 2 and t[0] == "[" and t[1] == ":":
                end = t.find(":]", 2)
                if end >= 0:
                    name = t[2:end].removeprefix("^")
                    if name not in _POSIX_CLASSES:
                        raise _SyntaxError(INVALID_CHAR_RANGE, t[: end + 2])
                    t = t[end + 2 :]
                    continue
            if t.startswith(("\\p", "\\P")):
                t = _unicode_class(t)
                continue
            if len(t) >= 2 and t[0] == "\\" and t[1] in "dswDSW":
                t = t[2:]
                continue
            start = t
            low, t = _class_char(t, whole)
            if len(t) >= 2 and t[0] == "-" and t[1] != "]":
                high, t = _class_char(t[1:], whole)
                if high < low:
                    raise _SyntaxError(INVALID_CHAR_RANGE, start[: len(start) - len(t)])
        return t[1:]


def _class_char(t: str, whole_class: str) -> tuple[int, str]:
    if not t:
        raise _SyntaxError(MISSING_BRACKET, whole_class)
    if t[0] == "\\":
        return _escape_value(t)
    return ord(t[0]), t[1:]


def _escape(t: str) -> str:
    return _escape_value(t)[1]


def _escape_value(t: str) -> tuple[int, str]:
    """``\\x`` escapes that stand for one character (Go's parseEscape); (code point, rest)."""
    rest = t[1:]
    if not rest:
        raise _SyntaxError(TRAILING_BACKSLASH, "")
    char, rest = rest[0], rest[1:]
    if char in "1234567" and (not rest or not "0" <= rest[0] <= "7"):
        raise _SyntaxError(INVALID_ESCAPE, t[: len(t) - len(rest)])
    if char in "01234567":
        digits = char
        while len(digits) < 3 and rest and "0" <= rest[0] <= "7":
            digits, rest = digits + rest[0], rest[1:]
        return int(digits, 8), rest
    if char == "x":
        return _hex_escape(t, rest)
    simple = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
    if char in simple:
        return simple[char], rest
    if char.isascii() and not _is_ascii_alnum(char):
        return ord(char), rest
    raise _SyntaxError(INVALID_ESCAPE, t[: len(t) - len(rest)])


def _hex_escape(t: str, rest: str) -> tuple[int, str]:
    """``\\xHH`` or ``\\x{H...}``; Go's error covers what it read up to the bad character."""

    def bad(left: str) -> _SyntaxError:
        return _SyntaxError(INVALID_ESCAPE, t[: len(t) - len(left)])

    if not rest:
        raise bad(rest)
    if rest[0] == "{":
        rest = rest[1:]
        value, digits = 0, 0
        while True:
            if not rest:
                raise bad(rest)
            char, rest = rest[0], rest[1:]
            if char == "}":
                break
            if char not in _HEX:
                raise bad(rest)
            value = value * 16 + int(char, 16)
            if value > 0x10FFFF:
                raise bad(rest)
            digits += 1
        if digits == 0:
            raise bad(rest)
        return value, rest
    high, rest = rest[0], rest[1:]
    low, rest = (rest[0], rest[1:]) if rest else ("", rest)
    if high not in _HEX or not low or low not in _HEX:
        raise bad(rest)
    return int(high + low, 16), rest


def _unicode_class(t: str) -> str:
    """``\\pL``, ``\\p{Greek}``: the name is not checked (Go's Unicode tables decide)."""
    rest = t[2:]
    if not rest:
        raise _SyntaxError(INVALID_CHAR_RANGE, t)
    if rest[0] != "{":
        return rest[1:]
    end = t.find("}")
    if end < 0:
        raise _SyntaxError(INVALID_CHAR_RANGE, t)
    return t[end + 1 :]


def _parse_repeat_braces(t: str) -> tuple[int, int, str] | None:
    """``{n}``, ``{n,}``, ``{n,m}`` → (min, max (-1: none), rest); ``None``: a literal ``{``."""
    rest = t[1:]
    low, rest_after = _parse_int(rest)
    if low is None:
        return None
    rest = rest_after
    if not rest:
        return None
    if rest[0] == ",":
        rest = rest[1:]
        if not rest:
            return None
        if rest[0] == "}":
            high = -1
        else:
            parsed, rest = _parse_int(rest)
            if parsed is None:
                return None
            high = parsed
    else:
        high = low
    if not rest or rest[0] != "}":
        return None
    return low, high, rest[1:]


def _parse_int(t: str) -> tuple[int | None, str]:
    digits = 0
    while digits < len(t) and t[digits].isascii() and t[digits].isdigit():
        digits += 1
    if digits == 0:
        return None, t
    if digits >= 2 and t[0] == "0":
        return None, t  # Go disallows leading zeros: a literal "{"
    if digits > 8:
        return -1, t[digits:]  # too big: Go's parser answers -1
    return int(t[:digits]), t[digits:]

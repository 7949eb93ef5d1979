"""The functions a Nomad 1.0 jobspec may call, with Nomad's own quirks.

The set is ``jobspec2/functions.go`` of Nomad 1.0: no ``tostring``,
``regex``, ``timestamp``, ``env``, ``templatefile``, ``strlen``,
``filebase64``... (calling one is "Call to unknown function").  Quirks kept on
purpose because Nomad has them: ``coalesce`` skips only nulls, ``reverse`` is
string reversal, ``index`` is element access, ``length`` rejects strings,
``lookup`` needs its third argument, ``replace`` is never a regex,
``yamldecode`` reads a bare ``y`` as true (YAML 1.1).

Filesystem functions read files relative to ``base_dir`` and only when
``allow_fs`` (Nomad's parse API disables them).  ``bcrypt`` and
``rsadecrypt`` are not provided by this converter and say so.
"""

from __future__ import annotations

import base64
import csv
import glob
import hashlib
import io
import ipaddress
import json
import math
import os
import re
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import yaml

from reconciler.jobspec import hcl_syntax as ast
from reconciler.jobspec.durations import DurationError, parse_go_duration
from reconciler.jobspec.hcl_eval import (
    ArgumentError,
    ArityError,
    Evaluator,
    Function,
    FunctionError,
    values_equal,
)
from reconciler.jobspec.hcl_types import (
    ConversionError,
    convert,
    format_number,
    parse_type,
    to_bool,
    to_number,
    to_string,
)
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE

_Registry = dict[str, Function]


def _fn(reg: _Registry, name: str, params: tuple[str, ...], *, variadic: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``impl(*args)`` under ``name`` with HCL's arity errors."""

    def wrap(impl: Callable[..., Any]) -> Callable[..., Any]:
        def call(args: list[Any]) -> Any:
            if len(args) < len(params):
                raise ArityError(
                    "Not enough function arguments",
                    f'Function "{name}" expects {len(params)} argument(s). Missing value for "{params[len(args)]}"',
                )
            if variadic is None and len(args) > len(params):
                raise ArityError("Too many function arguments", f'Function "{name}" expects only {len(params)} argument(s)')
            return impl(*args)

        call.param_names = params + ((variadic,) if variadic else ())  # type: ignore[attr-defined]
        reg[name] = call
        return impl

    return wrap


def _str(v: Any, i: int = 0) -> str:
    if v is None:
        raise ArgumentError("argument must not be null", i)
    try:
        return to_string(v)
    except ConversionError as exc:
        raise ArgumentError(str(exc), i) from None


def _num(v: Any, i: int = 0) -> int | float:
    if v is None:
        raise ArgumentError("argument must not be null", i)
    try:
        return to_number(v)
    except ConversionError as exc:
        raise ArgumentError(str(exc), i) from None


def _int(v: Any, i: int = 0) -> int:
    n = _num(v, i)
    if not float(n).is_integer():
        raise ArgumentError("value must be a whole number", i)
    return int(n)


def _list(v: Any, i: int = 0) -> list[Any]:
    if not isinstance(v, list):
        raise ArgumentError("list or tuple required" if v is not None else "argument must not be null", i)
    return v


def _map(v: Any, i: int = 0) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ArgumentError("object or map required" if v is not None else "argument must not be null", i)
    return v


def _norm(v: float | int) -> int | float:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
        return int(v)
    return v


def encode_json(v: Any) -> str:
    """cty's jsonencode: compact, keys sorted, HTML characters escaped like Go."""

    def enc(x: Any) -> str:
        if x is None:
            return "null"
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, (int, float)):
            return format_number(x)
        if isinstance(x, str):
            s = json.dumps(x, ensure_ascii=False)
            return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        if isinstance(x, list):
            return "[" + ",".join(enc(i) for i in x) + "]"
        if isinstance(x, dict):
            return "{" + ",".join(enc(k) + ":" + enc(x[k]) for k in sorted(x)) + "}"
        raise FunctionError("value cannot be encoded as JSON")

    return enc(v)


def _from_json(x: Any) -> Any:
    if isinstance(x, float):
        return _norm(x)
    if isinstance(x, list):
        return [_from_json(i) for i in x]
    if isinstance(x, dict):
        return {k: _from_json(x[k]) for k in sorted(x)}
    return x


def encode_yaml(v: Any) -> str:
    """cty's yamlencode (go-cty-yaml): block style, strings double-quoted unless they
    contain a newline (then a ``|`` literal block), bare scalars end the document (``...``)."""

    def scalar(x: Any) -> str:
        if x is None:
            return "null"
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, (int, float)):
            return format_number(x)
        return json.dumps(x, ensure_ascii=False)

    def literal(text: str, indent: int) -> tuple[str, list[str]]:
        """A literal block scalar: its header (``|``, ``|-``, ``|+``) and its indented lines."""
        stripped = text.rstrip("\n")
        trailing = len(text) - len(stripped)
        chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
        hint = "2" if text[:1] in (" ", "\n") else ""
        pad = " " * (indent + 2)
        body = [pad + line if line else "" for line in stripped.split("\n")]
        body += [""] * (trailing - 1 if trailing > 1 else 0)
        return "|" + hint + chomp, body

    def value(prefix: str, x: Any, indent: int) -> list[str]:
        """``prefix`` (a key or "- ") followed by x, which may continue on indented lines."""
        if isinstance(x, str) and "\n" in x:
            header, body = literal(x, indent)
            return [prefix + header, *body]
        if isinstance(x, dict) and x:
            return [prefix.rstrip(), *block(x, indent + 2)]
        if isinstance(x, list) and x:
            return [prefix.rstrip(), *block(x, indent)]
        return [prefix + inline(x)]

    def block(x: Any, indent: int) -> list[str]:
        pad = " " * indent
        lines: list[str] = []
        if isinstance(x, dict):
            for k in sorted(x):
                lines.extend(value(f"{pad}{json.dumps(k, ensure_ascii=False)}: ", x[k], indent))
            return lines
        for item in x:
            if isinstance(item, (dict, list)) and item:
                sub = block(item, indent + 2)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.extend(value(f"{pad}- ", item, indent))
        return lines

    def inline(x: Any) -> str:
        if isinstance(x, dict):
            return "{}"
        if isinstance(x, list):
            return "[]"
        return scalar(x)

    if isinstance(v, (dict, list)) and v:
        return "\n".join(block(v, 0)) + "\n"
    if isinstance(v, str) and "\n" in v:
        header, body = literal(v, 0)
        return "\n".join([header, *body]) + "\n"
    if isinstance(v, (str, dict, list)):
        return inline(v) + "\n"
    return scalar(v) + "\n...\n"  # a bare plain scalar ends the document explicitly


class _Yaml11Loader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML 1.1 booleans (y/yes/on...), as go-yaml v2 reads them in Nomad 1.0."""


_Yaml11Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"),
)


def _yaml_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() in ("y", "yes", "true", "on")


_Yaml11Loader.add_constructor("tag:yaml.org,2002:bool", _yaml_bool)
# Timestamps stay strings, as in Nomad's YAML decoding (values are strings, numbers, bools...).
_Yaml11Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: str(loader.construct_scalar(node))
)


def _go_format(fmt: str, args: list[Any]) -> str:
    """cty's ``format``: Go-style verbs %s %d %f %t %q %v %x %o %b %e with flags/width/precision."""
    out: list[str] = []
    verb_re = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")
    i = 0
    argi = 0
    pos = 0
    for m in verb_re.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            raise FunctionError(f"not enough arguments for %{verb} at {m.start()}")
        a = args[argi]
        argi += 1
        i += 1
        if verb == "s":
            text = _str(a, argi)
        elif verb == "q":
            text = json.dumps(_str(a, argi), ensure_ascii=False)
        elif verb == "v":
            text = encode_json(a) if isinstance(a, (list, dict)) else ("null" if a is None else to_string(a))
        elif verb == "t":
            try:
                text = "true" if to_bool(a) else "false"
            except ConversionError:
                raise FunctionError(f"unsupported value for \"%t\" at {m.start()}: bool required") from None
        elif verb in "dxXob":
            n = _num(a, argi)
            if not float(n).is_integer():
                raise FunctionError(f'unsupported value for "%{verb}" at {m.start()}: an integer is required')
            n = int(n)
            base = {"d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[verb]
            text = format(n, ("+" if "+" in flags else "") + base)
        elif verb in "feEgG":
            n = float(_num(a, argi))
            p = 6 if prec is None else int(prec)
            if verb in "gG" and prec is None:
                text = format_number(_norm(n))
            else:
                text = format(n, ("+" if "+" in flags else "") + f".{p}{verb}")
                if verb in "eE":
                    text = re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)
        else:
            raise FunctionError(f"unsupported format verb %{verb}")
        if width:
            w = int(width)
            if "-" in flags:
                text = text.ljust(w)
            elif "0" in flags and verb not in "sqvt":
                sign = text[0] if text[:1] in "+-" else ""
                text = sign + text[len(sign) :].rjust(w - len(sign), "0")
            else:
                text = text.rjust(w)
        out.append(text)
    out.append(fmt[pos:])
    if argi < len(args):
        raise FunctionError(f"too many arguments; only {argi} used by format string")
    return "".join(out)


_DATE_TOKENS = re.compile(r"YYYY|YY|MMMM|MMM|MM|M|DD|D|EEEE|EEE|hh|h|HH|H|AA|aa|mm|m|ss|s|ZZZZZ|ZZZZ|ZZZ|Z|'(?:[^']|'')*'|.", re.S)


def _parse_rfc3339(text: str, i: int) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ArgumentError(f'not a valid RFC3339 timestamp: cannot use "{text}" as year', i) from None


def _formatdate(spec: str, ts: str) -> str:
    t = _parse_rfc3339(ts, 1)
    out: list[str] = []
    for tok in _DATE_TOKENS.findall(spec):
        off = t.utcoffset() or timedelta(0)
        mins = int(off.total_seconds() // 60)
        sign = "-" if mins < 0 else "+"
        hh, mm = divmod(abs(mins), 60)
        table = {
            "YYYY": f"{t.year:04d}", "YY": f"{t.year % 100:02d}",
            "MMMM": t.strftime("%B"), "MMM": t.strftime("%b"), "MM": f"{t.month:02d}", "M": str(t.month),
            "DD": f"{t.day:02d}", "D": str(t.day), "EEEE": t.strftime("%A"), "EEE": t.strftime("%a"),
            "hh": f"{t.hour:02d}", "h": str(t.hour), "HH": f"{(t.hour % 12) or 12:02d}", "H": str((t.hour % 12) or 12),
            "AA": "AM" if t.hour < 12 else "PM", "aa": "am" if t.hour < 12 else "pm",
            "mm": f"{t.minute:02d}", "m": str(t.minute), "ss": f"{t.second:02d}", "s": str(t.second),
            "ZZZZZ": f"{sign}{hh:02d}:{mm:02d}", "ZZZZ": f"{sign}{hh:02d}{mm:02d}",
            "ZZZ": "UTC" if mins == 0 else f"{sign}{hh:02d}{mm:02d}", "Z": "Z" if mins == 0 else f"{sign}{hh:02d}:{mm:02d}",
        }
        if tok in table:
            out.append(table[tok])
        elif tok.startswith("'") and len(tok) > 1:
            out.append(tok[1:-1].replace("''", "'"))
        elif tok.isalpha():
            raise FunctionError(f'invalid date format verb "{tok}"')
        else:
            out.append(tok)
    return "".join(out)


def _format_rfc3339(t: datetime) -> str:
    """Go's ``time.RFC3339``: whole seconds, ``Z`` for UTC, the offset otherwise."""
    text = t.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _flatten(v: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in v:
        if isinstance(item, list):
            out.extend(_flatten(item))
        else:
            out.append(item)
    return out


def _distinct(v: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in v:
        if not any(values_equal(item, o) for o in out):
            out.append(item)
    return out


def _set_sort(v: list[Any]) -> list[Any]:
    """cty sets of strings iterate in lexical order; numbers numerically."""
    try:
        return sorted(_distinct(v), key=lambda x: (isinstance(x, str), x))
    except TypeError:
        return _distinct(v)


def _cidr_network(prefix: str, i: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError as exc:
        raise ArgumentError(f"invalid CIDR expression: {exc}", i) from None


def _cidrsubnet(prefix: str, newbits: int, netnum: int) -> str:
    net = _cidr_network(prefix, 0)
    new_len = net.prefixlen + newbits
    if new_len > net.max_prefixlen:
        raise FunctionError(f"insufficient address space to extend prefix of {net.prefixlen} by {newbits}")
    if netnum >= 2**newbits or netnum < 0:
        raise FunctionError(f"prefix extension of {newbits} does not accommodate a subnet numbered {netnum}")
    base = int(net.network_address) + (netnum << (net.max_prefixlen - new_len))
    return f"{ipaddress.ip_address(base) if net.version == 4 else ipaddress.IPv6Address(base)}/{new_len}"


def _cidrhost(prefix: str, hostnum: int) -> str:
    net = _cidr_network(prefix, 0)
    size = 2 ** (net.max_prefixlen - net.prefixlen)
    if hostnum < 0:
        hostnum += size
    if not 0 <= hostnum < size:
        raise FunctionError(f"prefix of {net.prefixlen} does not accommodate a host numbered {hostnum}")
    return str(ipaddress.ip_address(int(net.network_address) + hostnum) if net.version == 4 else ipaddress.IPv6Address(int(net.network_address) + hostnum))


def build_functions(
    *,
    base_dir: str | None = None,
    allow_fs: bool = True,
    fs_root: str | None = None,
    read_limit: int = DEFAULT_MAX_FILE_SIZE,
) -> dict[str, Function]:
    """Nomad 1.0's function table; filesystem functions honour ``allow_fs``/``base_dir``.

    ``fs_root`` confines them to one directory tree (symlinks resolved): the
    daemon reads job files from a repository that others write to, and a
    ``file("/run/secrets/...")`` must not copy the reconciler's own secrets into a job.
    ``read_limit`` bounds each file they read (never read whole when larger).
    """
    reg: _Registry = {}
    f = _fn

    # ---- numeric
    @f(reg, "abs", ("num",))
    def _abs(n: Any) -> Any:
        return abs(_num(n))

    @f(reg, "ceil", ("num",))
    def _ceil(n: Any) -> Any:
        return math.ceil(_num(n))

    @f(reg, "floor", ("num",))
    def _floor(n: Any) -> Any:
        return math.floor(_num(n))

    @f(reg, "log", ("num", "base"))
    def _log(n: Any, b: Any) -> Any:
        return _norm(math.log(_num(n, 0), _num(b, 1)))

    @f(reg, "pow", ("num", "power"))
    def _pow(n: Any, p: Any) -> Any:
        return _norm(float(_num(n, 0)) ** _num(p, 1))

    @f(reg, "signum", ("num",))
    def _signum(n: Any) -> Any:
        v = _num(n)
        return (v > 0) - (v < 0)

    @f(reg, "max", (), variadic="numbers")
    def _max(*ns: Any) -> Any:
        if not ns:
            raise FunctionError("must pass at least one number")
        return max(_num(n, i) for i, n in enumerate(ns))

    @f(reg, "min", (), variadic="numbers")
    def _min(*ns: Any) -> Any:
        if not ns:
            raise FunctionError("must pass at least one number")
        return min(_num(n, i) for i, n in enumerate(ns))

    @f(reg, "parseint", ("number", "base"))
    def _parseint(s: Any, b: Any) -> Any:
        base = _int(b, 1)
        if not 2 <= base <= 62:
            raise ArgumentError("base must be a whole number between 2 and 62 inclusive", 1)
        text = _str(s, 0)
        try:
            return int(text, base)
        except ValueError:
            raise ArgumentError(f"cannot parse {text!r} as a base {base} integer", 0) from None

    # ---- strings
    @f(reg, "chomp", ("str",))
    def _chomp(s: Any) -> Any:
        return re.sub(r"(?:\r\n|\n|\r)+$", "", _str(s))

    @f(reg, "format", ("format",), variadic="args")
    def _format(fmt: Any, *args: Any) -> Any:
        return _go_format(_str(fmt), list(args))

    @f(reg, "formatlist", ("format",), variadic="args")
    def _formatlist(fmt: Any, *args: Any) -> Any:
        lengths = {len(a) for a in args if isinstance(a, list)}
        if len(lengths) > 1:
            raise FunctionError("all list arguments must have the same length")
        n = lengths.pop() if lengths else 1
        return [_go_format(_str(fmt), [a[k] if isinstance(a, list) else a for a in args]) for k in range(n)]

    @f(reg, "indent", ("spaces", "str"))
    def _indent(n: Any, s: Any) -> Any:
        pad = " " * _int(n, 0)
        return _str(s, 1).replace("\n", "\n" + pad)

    @f(reg, "join", ("separator",), variadic="lists")
    def _join(sep: Any, *lists: Any) -> Any:
        if not lists:
            raise FunctionError("at least one list is required")
        items: list[str] = []
        for i, lst in enumerate(lists):
            for item in _list(lst, i + 1):
                if item is None:
                    raise ArgumentError("element is null; cannot concatenate null values", i + 1)
                items.append(_str(item, i + 1))
        return _str(sep).join(items)

    @f(reg, "lower", ("str",))
    def _lower(s: Any) -> Any:
        return _str(s).lower()

    @f(reg, "upper", ("str",))
    def _upper(s: Any) -> Any:
        return _str(s).upper()

    @f(reg, "title", ("str",))
    def _title(s: Any) -> Any:
        return re.sub(r"(^|(?<=[^\w]))(\w)", lambda m: m.group(1) + m.group(2).upper(), _str(s))

    @f(reg, "replace", ("str", "substr", "replace"))
    def _replace(s: Any, old: Any, new: Any) -> Any:
        return _str(s, 0).replace(_str(old, 1), _str(new, 2))  # never a regex in Nomad

    @f(reg, "regex_replace", ("str", "substr", "replace"))
    def _regex_replace(s: Any, pattern: Any, new: Any) -> Any:
        try:
            rx = re.compile(_str(pattern, 1))
        except re.error as exc:
            raise ArgumentError(f"invalid regular expression: {exc}", 1) from None
        repl = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: "\\g<" + (m.group(1) or m.group(2)) + ">", _str(new, 2))
        return rx.sub(repl, _str(s, 0))

    @f(reg, "reverse", ("str",))
    def _reverse(s: Any) -> Any:
        return _str(s)[::-1]  # Nomad 1.0's reverse is cty's string reverse

    reg["strrev"] = reg["reverse"]

    @f(reg, "split", ("separator", "str"))
    def _split(sep: Any, s: Any) -> Any:
        text, separator = _str(s, 1), _str(sep, 0)
        return list(text) if separator == "" else text.split(separator)  # Go splits "" per character

    @f(reg, "substr", ("str", "offset", "length"))
    def _substr(s: Any, off: Any, ln: Any) -> Any:
        text, o, n = _str(s, 0), _int(off, 1), _int(ln, 2)
        if o < 0:
            o += len(text)
        if o < 0 or o > len(text):
            raise ArgumentError("offset out of range", 1)
        return text[o:] if n < 0 else text[o : o + n]

    @f(reg, "trim", ("str", "cutset"))
    def _trim(s: Any, cut: Any) -> Any:
        return _str(s, 0).strip(_str(cut, 1))

    @f(reg, "trimprefix", ("str", "prefix"))
    def _trimprefix(s: Any, p: Any) -> Any:
        return _str(s, 0).removeprefix(_str(p, 1))

    @f(reg, "trimsuffix", ("str", "suffix"))
    def _trimsuffix(s: Any, p: Any) -> Any:
        return _str(s, 0).removesuffix(_str(p, 1))

    @f(reg, "trimspace", ("str",))
    def _trimspace(s: Any) -> Any:
        return _str(s).strip()

    # ---- collections
    @f(reg, "chunklist", ("list", "size"))
    def _chunklist(lst: Any, size: Any) -> Any:
        items, n = _list(lst, 0), _int(size, 1)
        if n < 0:
            raise ArgumentError("the size argument must be positive", 1)
        if n == 0:
            return [items]
        return [items[k : k + n] for k in range(0, len(items), n)]

    @f(reg, "coalesce", (), variadic="vals")
    def _coalesce(*vals: Any) -> Any:
        for v in vals:
            if v is not None:  # Nomad 1.0: only nulls are skipped, "" is a value
                return v
        raise FunctionError("no non-null arguments")

    @f(reg, "coalescelist", (), variadic="vals")
    def _coalescelist(*vals: Any) -> Any:
        for i, v in enumerate(vals):
            if len(_list(v, i)) > 0:
                return v
        raise FunctionError("no non-null arguments")

    @f(reg, "compact", ("list",))
    def _compact(lst: Any) -> Any:
        return [_str(x) for x in _list(lst) if x is not None and x != ""]

    @f(reg, "concat", (), variadic="seqs")
    def _concat(*seqs: Any) -> Any:
        out: list[Any] = []
        for i, s in enumerate(seqs):
            out.extend(_list(s, i))
        return out

    @f(reg, "contains", ("list", "value"))
    def _contains(lst: Any, v: Any) -> Any:
        return any(values_equal(x, v) for x in _list(lst, 0))

    @f(reg, "distinct", ("list",))
    def _distinct_fn(lst: Any) -> Any:
        return _distinct(_list(lst))

    @f(reg, "element", ("list", "index"))
    def _element(lst: Any, idx: Any) -> Any:
        items, k = _list(lst, 0), _int(idx, 1)
        if not items:
            raise FunctionError("cannot use element function with an empty list")
        if k < 0:
            raise ArgumentError("cannot use element function with a negative index", 1)
        return items[k % len(items)]

    @f(reg, "flatten", ("list",))
    def _flatten_fn(lst: Any) -> Any:
        return _flatten(_list(lst))

    @f(reg, "index", ("collection", "key"))
    def _index(coll: Any, key: Any) -> Any:
        # Nomad 1.0's "index" is cty's element lookup (coll[key]), not Terraform's search.
        if isinstance(coll, list):
            k = _int(key, 1)
            if not 0 <= k < len(coll):
                raise ArgumentError("the given index is not in the collection", 1)
            return coll[k]
        if isinstance(coll, dict):
            ks = _str(key, 1)
            if ks not in coll:
                raise ArgumentError("the given key is not in the collection", 1)
            return coll[ks]
        raise ArgumentError("collection must be a list, a map or a tuple", 0)

    @f(reg, "keys", ("inputMap",))
    def _keys(m: Any) -> Any:
        return sorted(_map(m))

    @f(reg, "values", ("mapping",))
    def _values(m: Any) -> Any:
        mm = _map(m)
        return [mm[k] for k in sorted(mm)]

    @f(reg, "length", ("collection",))
    def _length(v: Any) -> Any:
        if isinstance(v, (list, dict)):
            return len(v)
        raise ArgumentError("collection must be a list, a map or a tuple", 0)

    @f(reg, "lookup", ("inputMap", "key", "default"))
    def _lookup(m: Any, key: Any, default: Any) -> Any:
        mm = _map(m, 0)
        k = _str(key, 1)
        return mm.get(k, default)

    @f(reg, "merge", (), variadic="maps")
    def _merge(*maps: Any) -> Any:
        out: dict[str, Any] = {}
        for i, m in enumerate(maps):
            if m is None:
                continue
            out.update(_map(m, i))
        return {k: out[k] for k in sorted(out)}

    @f(reg, "range", (), variadic="params")
    def _range(*params: Any) -> Any:
        nums = [_num(p, i) for i, p in enumerate(params)]
        start: int | float
        stop: int | float
        step: int | float
        if len(nums) == 1:
            start, stop, step = 0, nums[0], 1
        elif len(nums) == 2:
            start, stop = nums
            step = 1 if stop >= start else -1
        elif len(nums) == 3:
            start, stop, step = nums
        else:
            raise FunctionError("must have one, two, or three arguments")
        if step == 0:
            raise FunctionError("step must not be zero")
        out: list[Any] = []
        v = start
        while (step > 0 and v < stop) or (step < 0 and v > stop):
            out.append(_norm(v))
            v += step
            if len(out) > 1024:
                raise FunctionError("more than 1024 values were generated; either decrease the difference between start and end or use a smaller step")
        return out

    @f(reg, "slice", ("list", "start_index", "end_index"))
    def _slice(lst: Any, a: Any, b: Any) -> Any:
        items, s, e = _list(lst, 0), _int(a, 1), _int(b, 2)
        if s < 0 or s > len(items):
            raise ArgumentError("the start index must not be outside the bounds of the list", 1)
        if e < s or e > len(items):
            raise ArgumentError("the end index must not be less than the start index or greater than the length of the list", 2)
        return items[s:e]

    @f(reg, "sort", ("list",))
    def _sort(lst: Any) -> Any:
        return sorted(_str(x) for x in _list(lst))

    @f(reg, "setintersection", ("first_set",), variadic="other_sets")
    def _setintersection(first: Any, *others: Any) -> Any:
        out = [x for x in _distinct(_list(first, 0)) if all(any(values_equal(x, y) for y in _list(o, i + 1)) for i, o in enumerate(others))]
        return _set_sort(out)

    @f(reg, "setunion", ("first_set",), variadic="other_sets")
    def _setunion(first: Any, *others: Any) -> Any:
        out = list(_list(first, 0))
        for i, o in enumerate(others):
            out.extend(_list(o, i + 1))
        return _set_sort(out)

    @f(reg, "setproduct", (), variadic="sets")
    def _setproduct(*sets: Any) -> Any:
        result: list[list[Any]] = [[]]
        for i, s in enumerate(sets):
            result = [[*r, x] for r in result for x in _list(s, i)]
        return result

    @f(reg, "zipmap", ("keys", "values"))
    def _zipmap(ks: Any, vs: Any) -> Any:
        keys, vals = _list(ks, 0), _list(vs, 1)
        if len(keys) != len(vals):
            raise FunctionError(f"number of keys ({len(keys)}) does not match number of values ({len(vals)})")
        out = {_str(k, 0): v for k, v in zip(keys, vals, strict=True)}
        return {k: out[k] for k in sorted(out)}

    # ---- encoding
    @f(reg, "base64decode", ("str",))
    def _b64d(s: Any) -> Any:
        try:
            return base64.b64decode(_str(s), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise FunctionError("failed to decode base64 data") from None

    @f(reg, "base64encode", ("str",))
    def _b64e(s: Any) -> Any:
        return base64.b64encode(_str(s).encode()).decode()

    @f(reg, "csvdecode", ("str",))
    def _csvdecode(s: Any) -> Any:
        rows = list(csv.reader(io.StringIO(_str(s))))
        if not rows:
            raise FunctionError("missing header line")
        header = rows[0]
        out = []
        for row in rows[1:]:
            if len(row) != len(header):
                raise FunctionError("wrong number of fields in record")
            out.append({h: row[k] for k, h in sorted(enumerate(header), key=lambda p: p[1])})
        return out

    @f(reg, "jsondecode", ("str",))
    def _jsondecode(s: Any) -> Any:
        try:
            return _from_json(json.loads(_str(s)))
        except json.JSONDecodeError as exc:
            raise FunctionError(str(exc)) from None

    @f(reg, "jsonencode", ("val",))
    def _jsonencode(v: Any) -> Any:
        return encode_json(v)

    @f(reg, "urlencode", ("str",))
    def _urlencode(s: Any) -> Any:
        return urllib.parse.quote_plus(_str(s), safe="")

    @f(reg, "yamldecode", ("src",))
    def _yamldecode(s: Any) -> Any:
        try:
            return _from_json(yaml.load(_str(s), Loader=_Yaml11Loader))
        except yaml.YAMLError as exc:
            raise FunctionError(f"on line {getattr(getattr(exc, 'problem_mark', None), 'line', 0) + 1}: {exc}") from None

    @f(reg, "yamlencode", ("value",))
    def _yamlencode(v: Any) -> Any:
        return encode_yaml(v)

    # ---- hashing, uuid, crypto
    for name, algo in (("md5", "md5"), ("sha1", "sha1"), ("sha256", "sha256"), ("sha512", "sha512")):
        def _hash(s: Any, _algo: str = algo) -> Any:
            return hashlib.new(_algo, _str(s).encode()).hexdigest()

        f(reg, name, ("str",))(_hash)

    @f(reg, "uuidv4", ())
    def _uuidv4() -> Any:
        return str(uuid.uuid4())

    @f(reg, "uuidv5", ("namespace", "name"))
    def _uuidv5(ns: Any, name: Any) -> Any:
        spaces = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL, "oid": uuid.NAMESPACE_OID, "x500": uuid.NAMESPACE_X500}
        text = _str(ns, 0)
        try:
            space = spaces[text] if text in spaces else uuid.UUID(text)
        except ValueError:
            raise ArgumentError(f"uuidv5() doesn't support namespace {text}", 0) from None
        return str(uuid.uuid5(space, _str(name, 1)))

    for unsupported in ("bcrypt", "rsadecrypt"):
        def _nope(*_a: Any, _n: str = unsupported) -> Any:
            raise FunctionError(f"{_n} is not supported by nomad-reconciler's converter; render this job with the Nomad CLI")

        f(reg, unsupported, (), variadic="args")(_nope)

    # ---- network
    @f(reg, "cidrhost", ("prefix", "hostnum"))
    def _cidrhost_fn(p: Any, n: Any) -> Any:
        return _cidrhost(_str(p, 0), _int(n, 1))

    @f(reg, "cidrnetmask", ("prefix",))
    def _cidrnetmask(p: Any) -> Any:
        net = _cidr_network(_str(p), 0)
        if net.version != 4:
            raise FunctionError("only IPv4 networks are supported")
        return str(net.netmask)

    @f(reg, "cidrsubnet", ("prefix", "newbits", "netnum"))
    def _cidrsubnet_fn(p: Any, b: Any, n: Any) -> Any:
        return _cidrsubnet(_str(p, 0), _int(b, 1), _int(n, 2))

    @f(reg, "cidrsubnets", ("prefix",), variadic="newbits")
    def _cidrsubnets(p: Any, *bits: Any) -> Any:
        net = _cidr_network(_str(p, 0), 0)
        out: list[str] = []
        cursor = int(net.network_address)
        for i, b in enumerate(bits):
            nb = _int(b, i + 1)
            new_len = net.prefixlen + nb
            if new_len > net.max_prefixlen:
                raise FunctionError(f"would extend prefix to {new_len} bits, which is too long for an IPv{net.version} address")
            size = 2 ** (net.max_prefixlen - new_len)
            cursor = -(-cursor // size) * size  # align up
            if cursor + size > int(net.network_address) + net.num_addresses:
                raise FunctionError(f"not enough remaining address space for a subnet with a prefix of {new_len} bits after {out[-1] if out else net}")
            addr = ipaddress.ip_address(cursor) if net.version == 4 else ipaddress.IPv6Address(cursor)
            out.append(f"{addr}/{new_len}")
            cursor += size
        return out

    # ---- time
    @f(reg, "formatdate", ("format", "time"))
    def _formatdate_fn(spec: Any, ts: Any) -> Any:
        return _formatdate(_str(spec, 0), _str(ts, 1))

    @f(reg, "timeadd", ("timestamp", "duration"))
    def _timeadd(ts: Any, d: Any) -> Any:
        t = _parse_rfc3339(_str(ts, 0), 0)
        try:
            ns = parse_go_duration(_str(d, 1))
        except DurationError as exc:
            raise ArgumentError(str(exc), 1) from None
        return _format_rfc3339(t + timedelta(microseconds=ns / 1000))

    # ---- filesystem (Nomad's CLI allows them; its parse API does not)
    def inside_root(target: str) -> bool:
        # After symlink resolution: a link inside the tree to /etc is outside it.
        if fs_root is None:
            return True
        root = os.path.realpath(fs_root)
        return os.path.commonpath([root, os.path.realpath(target)]) == root

    def fs_path(p: str) -> str:
        if not allow_fs:
            raise FunctionError("filesystem function disabled")
        p = os.path.expanduser(p)
        target = p if os.path.isabs(p) else os.path.join(base_dir or ".", p)
        if not inside_root(target):
            raise FunctionError(f"{p} is outside the jobs directory; filesystem functions may only read files in it")
        return target

    @f(reg, "file", ("path",))
    def _file(p: Any) -> Any:
        target = fs_path(_str(p))
        try:
            with open(target, "rb") as fh:
                data = fh.read(read_limit + 1)
                if len(data) > read_limit:
                    size = max(os.fstat(fh.fileno()).st_size, len(data))
                    raise FunctionError(
                        f"{_str(p)} is {size} bytes, more than the {read_limit}-byte limit for a "
                        "file a job reads (--max-file-size); not read"
                    )
            return data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FunctionError(f"failed to read {_str(p)}: {exc.strerror if isinstance(exc, OSError) else 'contents are not valid UTF-8'}") from None

    @f(reg, "fileexists", ("path",))
    def _fileexists(p: Any) -> Any:
        target = fs_path(_str(p))
        if os.path.exists(target) and not os.path.isfile(target):
            raise FunctionError(f"{_str(p)} is not a regular file, but {'a directory' if os.path.isdir(target) else 'something else'}")
        return os.path.isfile(target)

    @f(reg, "fileset", ("path", "pattern"))
    def _fileset(p: Any, pattern: Any) -> Any:
        root = fs_path(_str(p, 0))
        matches = glob.glob(os.path.join(root, _str(pattern, 1)), recursive=True)
        files = [m for m in matches if os.path.isfile(m)]
        # The pattern can climb too ("../../etc/*"): every match must stay inside.
        outside = next((m for m in files if not inside_root(m)), None)
        if outside is not None:
            raise FunctionError(
                f"pattern {_str(pattern, 1)} matches files outside the jobs directory; "
                "filesystem functions may only read files in it"
            )
        return sorted(os.path.relpath(m, root) for m in files)

    @f(reg, "abspath", ("path",))
    def _abspath(p: Any) -> Any:
        return os.path.abspath(fs_path(_str(p)))

    @f(reg, "basename", ("path",))
    def _basename(p: Any) -> Any:
        if not allow_fs:
            raise FunctionError("filesystem function disabled")
        return os.path.basename(_str(p).rstrip("/")) or "/"

    @f(reg, "dirname", ("path",))
    def _dirname(p: Any) -> Any:
        if not allow_fs:
            raise FunctionError("filesystem function disabled")
        return os.path.dirname(_str(p)) or "."

    @f(reg, "pathexpand", ("path",))
    def _pathexpand(p: Any) -> Any:
        if not allow_fs:
            raise FunctionError("filesystem function disabled")
        return os.path.expanduser(_str(p))

    return reg


def _lazy_try(ev: Evaluator, call: ast.Call, scope: Mapping[str, Any]) -> Any:
    from reconciler.errors import JobEvaluationError

    if not call.args:
        raise ev.error('Error in function call; Call to function "try" failed: at least one argument is required.', call)
    for arg in call.args:
        try:
            return ev.eval(arg, scope)
        except JobEvaluationError:
            continue
    raise ev.error('Error in function call; Call to function "try" failed: no expression succeeded.', call)


def _lazy_can(ev: Evaluator, call: ast.Call, scope: Mapping[str, Any]) -> Any:
    from reconciler.errors import JobEvaluationError

    if len(call.args) != 1:
        raise ev.error('Not enough function arguments; Function "can" expects 1 argument(s). Missing value for "expression".', call)
    try:
        ev.eval(call.args[0], scope)
    except JobEvaluationError:
        return False
    return True


def _lazy_convert(ev: Evaluator, call: ast.Call, scope: Mapping[str, Any]) -> Any:
    if len(call.args) != 2:
        raise ev.error('Not enough function arguments; Function "convert" expects 2 argument(s).', call)
    value = ev.eval(call.args[0], scope)
    try:
        wanted = parse_type(call.args[1])
    except ConversionError as exc:
        raise ev.error(str(exc), call.args[1]) from None
    try:
        return convert(value, wanted)
    except ConversionError as exc:
        raise ev.error(f'Invalid function argument; Invalid value for "value" parameter: {exc}.', call.args[0]) from None


LAZY_FUNCTIONS = {"try": _lazy_try, "can": _lazy_can, "convert": _lazy_convert}


def build_evaluator(
    *,
    path: str,
    base_dir: str | None = None,
    allow_fs: bool = True,
    fs_root: str | None = None,
    read_limit: int = DEFAULT_MAX_FILE_SIZE,
) -> Evaluator:
    """An evaluator with Nomad 1.0's functions, for one file."""
    return Evaluator(
        path=path,
        functions=build_functions(
            base_dir=base_dir, allow_fs=allow_fs, fs_root=fs_root, read_limit=read_limit
        ),
        lazy_functions=LAZY_FUNCTIONS,
    )


__all__ = ["LAZY_FUNCTIONS", "build_evaluator", "build_functions", "encode_json", "encode_yaml"]

"""Which blocks and arguments of a loaded job a given Nomad release does not know.

Pure.  The HCL converter and the JSON decoder read the newest job specification
the schema models (``hcl_schema``: each later field with the release that added
it), so one checkout can serve clusters of several releases.  Once the target
release is known (the cluster's, or ``lint --nomad-version``), this names what
that release's ``nomad job run`` would refuse, in HCL's words (hclsyntax
``Body.Content``, as vendored by Nomad), and where it is written.  Sending such
a job anyway would be worse than refusing it: Nomad's HTTP API drops fields it
does not know without a word, so ``disconnect`` would silently not apply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.jobspec.hcl_schema import STRUCTS, Attr, Nested, Struct, Version
from reconciler.jobspec.positions import Step

IDENTITY_ONE: Version = (1, 5, 0)  # api/tasks.go v1.5.0: Task.Identity, one `identity` block
IDENTITY_MANY: Version = (1, 7, 0)  # api/tasks.go v1.7.0: Task.Identities, repeatable


@dataclass(frozen=True)
class LaterField:
    """A block or argument of the job that ``version`` does not know."""

    where: tuple[Step, ...]  # the block or argument, from the job down (for ``positions.locate``)
    name: str  # the HCL name
    block: bool
    since: Version  # the first release that knows it
    duplicate: bool = False  # a second ``identity`` block where only one is allowed

    def message(self, version: Version) -> str:
        release = ".".join(map(str, self.since))
        target = ".".join(map(str, version))
        if self.duplicate:
            text = "Duplicate identity block; Only one identity block is allowed."
            why = f"Nomad {release} allows several; Nomad {target} one"
        else:
            if self.block:
                text = f'Unsupported block type; Blocks of type "{self.name}" are not expected here.'
            else:
                text = f'Unsupported argument; An argument named "{self.name}" is not expected here.'
            why = f'"{self.name}" is in the job specification from Nomad {release}; this is Nomad {target}'
        return f"{text} ({why})"


def later_fields(job: Mapping[str, Any], version: Version) -> list[LaterField]:
    """Every block and argument set in ``job`` (API JSON) that ``version`` does not know."""
    job_step = Step("job", str(job.get("ID") or ""))
    return list(_walk(STRUCTS["job"], job, (job_step,), version))


def later_messages(job: Mapping[str, Any], version: Version) -> list[str]:
    return [found.message(version) for found in later_fields(job, version)]


def _walk(struct: Struct, obj: Any, where: tuple[Step, ...], version: Version) -> Iterator[LaterField]:
    if not isinstance(obj, Mapping):
        return
    for f in struct.fields:
        if not isinstance(f, Attr | Nested) or f.hcl is None or f.json == "Identities":
            continue  # (identities: below)
        value = obj.get(f.json)
        if not _is_set(value):
            continue
        if f.since is not None and version < f.since:
            step = Step(f.hcl) if isinstance(f, Nested) else Step("attr", f.hcl)
            yield LaterField((*where, step), f.hcl, isinstance(f, Nested), f.since)
            continue
        if isinstance(f, Nested):
            for step, item in _items(f, value):
                yield from _walk(STRUCTS[f.struct], item, (*where, step), version)
    if struct.name == "task":
        yield from _identities(obj, where, version)


def _identities(task: Mapping[str, Any], where: tuple[Step, ...], version: Version) -> Iterator[LaterField]:
    """``Identity`` is filled by the converter (jobspec2 ``normalizeJob``), not a schema field."""
    found = [i for i in (task.get("Identity"), *(task.get("Identities") or [])) if isinstance(i, Mapping)]
    if not found:
        return
    if version < IDENTITY_ONE:
        yield LaterField((*where, Step("identity")), "identity", True, IDENTITY_ONE)
        return
    if version < IDENTITY_MANY and len(found) > 1:
        yield LaterField((*where, Step("identity", index=1)), "identity", True, IDENTITY_MANY, duplicate=True)
    for index, identity in enumerate(found):
        yield from _walk(STRUCTS["identity"], identity, (*where, Step("identity", index=index)), version)


def _items(f: Nested, value: Any) -> Iterator[tuple[Step, Any]]:
    if f.mode == "one":
        yield Step(f.hcl), value
    elif f.mode == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            yield Step(f.hcl, str(key)), item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            label = item.get(f.label) if f.label and isinstance(item, Mapping) else None
            yield (Step(f.hcl, str(label)) if label is not None else Step(f.hcl, index=index)), item


def _is_set(value: Any) -> bool:
    """A zero value says nothing: the converter prints a later field of a 1.0 struct only
    when the file sets it, a later struct prints every field, and a JSON job (say, read
    back from a newer Nomad) may carry zero values a release that drops them loses nothing by."""
    return value is not None and not (isinstance(value, list | dict | str | bool | int) and not value)

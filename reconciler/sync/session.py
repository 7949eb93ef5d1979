"""One command's run: load the checkout, connect to Nomad, drive the ``Reconciler``.

The composition root of the one-shot commands (``plan``, ``sync``, ``status``):
it builds the client from settings, optionally converts HCL with Nomad's own
parser (``--parser server``), and turns connection and permission failures
into messages a user can act on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from reconciler.config.connection import NomadConfig
from reconciler.errors import (
    ConfigError,
    NomadAPIError,
    NomadError,
    NomadNotFoundError,
    NomadPermissionDeniedError,
    NomadUnavailableError,
)
from reconciler.jobspec.canonical import canonicalize
from reconciler.jobspec.digest import digest
from reconciler.model import DesiredJob, Diagnostic, Snapshot
from reconciler.nomad.client import NomadClient
from reconciler.nomad.hooks import RequestHook
from reconciler.nomad.retry import RetryPolicy
from reconciler.sync.api import ClientApi, NomadApi
from reconciler.sync.sources import job_inputs


def explain_nomad_error(exc: NomadError, config: NomadConfig) -> str:
    """A one-line, actionable message for a failure that stops the whole command."""
    if isinstance(exc, NomadUnavailableError):
        return f"cannot reach Nomad at {config.display_address}: {exc.message}"
    if isinstance(exc, NomadPermissionDeniedError):
        return (
            f"Nomad at {config.display_address} rejected the token ({exc.message}) for {exc.endpoint or 'a request'}; "
            "the reconciler needs list-jobs and read-job (plan, sync: also submit-job; "
            "--parser server: parse-job) in the namespaces it manages"
        )
    return f"Nomad at {config.display_address}: {exc}"


async def require_namespaces(client: NomadClient, wanted: Iterable[str], *, flag: str) -> None:
    """Every namespace asked for exists in Nomad, else ``ConfigError`` saying which do.

    Nomad answers a list in a namespace that does not exist with an empty list
    (tests/golden/api/11-namespaces.jsonl), so a mistyped namespace would look
    like one without jobs.  A token that may not list namespaces (403) or a
    server without namespaces (404) cannot tell: then nothing is checked.
    """
    names = sorted({n for n in wanted if n and n != "*"})
    if not names:
        return
    try:
        listed = await client.list_namespaces()
    except (NomadPermissionDeniedError, NomadNotFoundError):
        return
    known = sorted(str(ns.get("Name") or "") for ns in listed)
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(
            f"{flag} {', '.join(missing)}: no such namespace in Nomad at {client.config.address} "
            f"(namespaces the token can see: {', '.join(known) or 'none'})"
        )


@asynccontextmanager
async def connect(
    config: NomadConfig,
    *,
    on_request: RequestHook | None = None,
    retry: RetryPolicy | None = None,
    namespaces: Iterable[str] = (),
) -> AsyncIterator[NomadApi]:
    """An open ``NomadApi`` over a fresh client, closed on exit; ``namespaces`` (the ones
    ``--namespace`` asked for) must exist."""
    async with NomadClient(config, retry=retry, on_request=on_request) as client:
        await require_namespaces(client, namespaces, flag="--namespace (or NOMAD_NAMESPACE)")
        yield ClientApi(client)


_POSITION = re.compile(r"input\.hcl:(\d+),(\d+)")


async def reparse_with_server(api: NomadApi, snapshot: Snapshot, inputs: Any = None) -> Snapshot:
    """The snapshot with every HCL2 job converted by Nomad's ``/v1/jobs/parse`` instead.

    ``-var`` values travel as var-file text (the parse API has no flags).  A file
    Nomad refuses becomes that file's error; the other jobs are unaffected.
    """
    jobs: list[DesiredJob] = []
    errors = list(snapshot.errors)
    for job in snapshot.jobs:
        if job.source_format != "hcl2":
            jobs.append(job)
            continue
        try:
            variables = job_inputs(snapshot.root, job, inputs).merged_var_text()
        except (OSError, ValueError) as exc:
            errors.append(Diagnostic(path=job.path, message=f"cannot read its variables: {exc}",
                                     rule="server-parse"))  # fmt: skip
            continue
        try:
            parsed = await api.parse_hcl(job.source, variables=variables)
        except NomadAPIError as exc:
            found = _POSITION.search(exc.message)
            errors.append(
                Diagnostic(
                    path=job.path,
                    message=f"Nomad's parser refused it: {exc.message.strip()}",
                    line=int(found.group(1)) if found else None,
                    column=int(found.group(2)) if found else None,
                    rule="server-parse",
                )
            )
            continue
        canonical = canonicalize(parsed)
        jobs.append(
            dataclasses.replace(job, job=parsed, canonical=canonical, digest=digest(canonical))
        )
    return dataclasses.replace(snapshot, jobs=tuple(jobs), errors=tuple(errors))


ProgressPrinter = Callable[[str], None]

"""ACL tokens against the ACL-enabled fake: header, errors, rotation, secrecy; and the
fake over TLS and a unix socket."""

from __future__ import annotations

import logging
import os
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from reconciler.config.connection import NomadConfig
from reconciler.config.http_client import TLSSettings
from reconciler.errors import NomadPermissionDeniedError
from reconciler.nomad.client import NomadClient
from reconciler.nomad.retry import RetryPolicy
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.jobs import sleeper_job


@pytest.fixture
def acl_fake() -> Iterator[FakeNomad]:
    with FakeNomad(acl=True) as fake:
        yield fake


def rotate(path: Path, token: str) -> None:
    path.write_text(token + "\n")
    st = path.stat()
    # A distinct mtime even where the filesystem's clock is coarse.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


async def test_anonymous_and_unknown_tokens_are_told_apart(acl_fake: FakeNomad) -> None:
    async with NomadClient(NomadConfig(address=acl_fake.address)) as anonymous:
        with pytest.raises(NomadPermissionDeniedError, match="lacks a capability"):
            await anonymous.list_jobs()
    unknown = str(uuid.uuid4())
    async with NomadClient(NomadConfig(address=acl_fake.address, token=unknown)) as client:
        with pytest.raises(NomadPermissionDeniedError, match="not know the token") as info:
            await client.list_jobs()
    assert info.value.status == 403
    assert unknown not in str(info.value)


async def test_limited_token_can_read_but_not_write(acl_fake: FakeNomad) -> None:
    management = acl_fake.bootstrap_acl()
    reader = acl_fake.create_token({"default": ["read-job"]})
    job = sleeper_job("acl-web")
    async with NomadClient(NomadConfig(address=acl_fake.address, token=management)) as admin:
        await admin.register_job(job)
    async with NomadClient(NomadConfig(address=acl_fake.address, token=reader)) as client:
        assert (await client.read_job("acl-web"))["ID"] == "acl-web"
        with pytest.raises(NomadPermissionDeniedError, match="Permission denied"):
            await client.register_job(job)
        with pytest.raises(NomadPermissionDeniedError):
            await client.plan_job(job)


async def test_rotated_token_file_is_used_without_a_restart(
    acl_fake: FakeNomad, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    management = acl_fake.bootstrap_acl()
    stale = str(uuid.uuid4())
    token_file = tmp_path / "nomad-token"
    token_file.write_text(stale + "\n")
    config = NomadConfig.from_env({"NOMAD_ADDR": acl_fake.address}, token_file=str(token_file))
    async with NomadClient(config, retry=RetryPolicy.never()) as client:
        with pytest.raises(NomadPermissionDeniedError, match="not know the token") as info:
            await client.list_jobs()
        rotate(token_file, management)
        assert (await client.list_jobs()).value == []
        shown = " ".join([str(info.value), repr(client), repr(config), caplog.text])
    assert stale not in shown
    assert management not in shown


@pytest.fixture
def pki(tmp_path: Path) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca, str(ca_file)


async def test_fake_over_mutual_tls(pki: tuple[trustme.CA, str], tmp_path: Path) -> None:
    ca, ca_file = pki
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("server.global.nomad").configure_cert(server)
    server.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(server)
    client_cert = ca.issue_cert("reconciler")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    client_cert.cert_chain_pems[0].write_to_path(str(cert))
    client_cert.private_key_pem.write_to_path(str(key))
    with FakeNomad(ssl_context=server) as fake:
        config = NomadConfig(
            address=fake.address,
            tls=TLSSettings(ca_cert=ca_file, client_cert=str(cert), client_key=str(key),
                            server_name="server.global.nomad"),
        )  # fmt: skip
        async with NomadClient(config) as client:
            await client.register_job(sleeper_job("tls-web"))
            assert (await client.read_job("tls-web"))["ID"] == "tls-web"


async def test_fake_over_a_unix_socket(tmp_path: Path) -> None:
    with FakeNomad(unix_socket=str(tmp_path / "nomad.sock")) as fake:
        assert fake.address.startswith("unix://")
        async with NomadClient(NomadConfig.from_env({"NOMAD_ADDR": fake.address})) as client:
            await client.register_job(sleeper_job("sock-web"))
            listed = await client.list_jobs()
        assert [stub["ID"] for stub in listed.value] == ["sock-web"]

"""TokenSource: the token a request sends, re-read when its file rotates, never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.token_file import TokenSource


def test_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    source = TokenSource(token_file=str(token_file))
    assert source.current() == "first"
    token_file.write_text("second-token\n")
    # Force a distinct mtime even on coarse-grained filesystems.
    st = token_file.stat()
    os.utime(token_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert source.current() == "second-token"
    assert "second-token" not in repr(source)


def test_missing_token_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    source = TokenSource(token_file=str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="absent"):
        source.current()


def test_token_file_briefly_missing_keeps_the_last_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("kept\n")
    source = TokenSource(token_file=str(token_file))
    assert source.current() == "kept"
    token_file.unlink()  # a rotation that deletes before it re-creates
    assert source.current() == "kept"
    token_file.write_text("new-one\n")
    assert source.current() == "new-one"

"""What is secret, and that it is hidden in shown values but never in the diff itself."""

from __future__ import annotations

import pytest

from reconciler.core.redact import REDACTED, is_sensitive_path, redact_job, redact_value


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        (("TaskGroups", "Tasks", "Env", "LOG_LEVEL"), True),
        (("TaskGroups", "Tasks", "Templates", "EmbeddedTmpl"), True),
        (("Meta", "db_password"), True),
        (("Meta", "API_KEY"), True),
        (("Config", "auth_token"), True),
        (("Config", "ssh_key"), True),
        (("Meta", "owner"), False),
        (("Config", "image"), False),
        (("Templates", "ErrMissingKey"), False),
        (("Meta", "Env"), False),  # a user key named Env is not the Env map
        (("VaultToken",), True),
    ],
)
def test_sensitive_paths(path: tuple[str, ...], secret: bool) -> None:
    assert is_sensitive_path(path) is secret


def test_redact_value_respects_show_secrets() -> None:
    assert redact_value(("Env", "X"), "v") == REDACTED
    assert redact_value(("Env", "X"), "v", show_secrets=True) == "v"
    assert redact_value(("Meta", "team"), "ops") == "ops"


def test_redact_job_hides_env_templates_and_secret_keys() -> None:
    job = {
        "ID": "web",
        "Meta": {"team": "ops", "token": "t0k"},
        "TaskGroups": [{"Tasks": [{
            "Env": {"A": "1", "B": "2"},
            "Templates": [{"EmbeddedTmpl": "{{ key \"x\" }}", "ChangeMode": "restart"}],
            "Config": {"image": "redis", "password": "p"},
        }]}],
    }  # fmt: skip
    shown = redact_job(job)
    task = shown["TaskGroups"][0]["Tasks"][0]
    assert task["Env"] == {"A": REDACTED, "B": REDACTED}
    assert task["Templates"][0] == {"EmbeddedTmpl": REDACTED, "ChangeMode": "restart"}
    assert task["Config"] == {"image": "redis", "password": REDACTED}
    assert shown["Meta"] == {"team": "ops", "token": REDACTED}
    assert job["Meta"]["token"] == "t0k"  # the input is not modified
    assert redact_job(job, show_secrets=True) == job

"""The OCI variables are read strictly: a typo or an empty key list is refused, not read as off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artreg.adapters import settings
from artreg.adapters.oci import check_credential_files
from artreg.errors import InputError


@pytest.mark.parametrize("name", ["ARTREG_OCI_PLAIN_HTTP", "ARTREG_OFFLINE"])
def test_a_flag_with_an_unknown_value_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = settings.oci_plain_http if "OCI" in name else settings.offline
    for value, expected in [("1", True), ("on", True), ("0", False), ("", False)]:
        monkeypatch.setenv(name, value)
        assert read() is expected
    monkeypatch.setenv(name, "maybe")
    with pytest.raises(InputError, match=rf"\${name}='maybe': not a yes/no value") as refused:
        read()
    assert "true" in str(refused.value) and "false" in str(refused.value)


def test_trusted_keys_that_name_no_key_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARTREG_OCI_TRUSTED_KEYS", raising=False)
    assert settings.oci_trusted_keys() == []  # unset: no signature required
    monkeypatch.setenv("ARTREG_OCI_TRUSTED_KEYS", "a.pub::b.pub")
    assert settings.oci_trusted_keys() == ["a.pub", "b.pub"]
    for empty in (":", "", " : "):
        monkeypatch.setenv("ARTREG_OCI_TRUSTED_KEYS", empty)
        with pytest.raises(InputError, match="names no key file"):
            settings.oci_trusted_keys()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json{", "not a readable JSON credentials file"),
        ('{"auths":[1,2]}', "field auths is a list"),
        ('{"auths":"oops"}', "field auths is a str"),
        ("[]", "a list, not a JSON object"),
        ('{"auths":{"h":{"auth":7}}}', "field auths.h"),
        ('{"credHelpers":"x"}', "field credHelpers"),
    ],
)
def test_a_malformed_credentials_file_is_named(text: str, words: str, tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(text)
    with pytest.raises(InputError, match=words) as refused:
        check_credential_files([str(auth)])
    assert str(auth) in str(refused.value)
    auth.write_text(json.dumps({"auths": {"h:5000": {"auth": "Y2k6eA=="}}}))
    check_credential_files([str(auth)])  # a good file passes

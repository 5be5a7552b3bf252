"""Assignment requests (`artreg assign`/`rollback --branch`): the committed file read back, and
a damaged one refused naming the file, the field and the fix."""

from __future__ import annotations

import pytest

from artreg.errors import InputError
from artreg.publishing.requests import Request, new_path

PATH = ".artreg/requests/encoder-staging-20260101T000000Z-abcdef"


def test_a_request_reads_back_what_was_written() -> None:
    request = Request(PATH, "encoder", "staging", "1.2.0", "assign", "Bob <bob@example.com>")
    assert Request.from_json(PATH, request.as_json()) == request
    assert "path" not in request.as_json()


def test_request_folders_are_unique() -> None:
    first, second = new_path("encoder", "staging"), new_path("encoder", "staging")
    assert first != second and first.startswith(".artreg/requests/encoder-staging-")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (["not", "an", "object"], "expected a JSON object"),
        ({"name": "encoder", "stage": "staging", "version": "1.0.0", "by": "b"}, "/kind"),
        (
            {"name": "encoder", "stage": "staging", "version": "1.0.0", "by": "b", "kind": "x"},
            "/kind must be assign or rollback",
        ),
    ],
)
def test_a_damaged_request_names_file_and_field(data: object, field: str) -> None:
    with pytest.raises(InputError, match=r"request\.json") as caught:
        Request.from_json(PATH, data)
    assert field in caught.value.message and caught.value.hint

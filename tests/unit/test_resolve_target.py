"""The one parse of a spec and its --stage/--version options (reading/resolve.target)."""

from __future__ import annotations

import pytest

from artreg.errors import InputError
from artreg.reading.resolve import target


@pytest.mark.parametrize("option", ["stage", "version"])
def test_an_empty_stage_or_version_option_is_bad_input_not_the_default(option: str) -> None:
    given = {"stage": None, "version": None, option: ""}
    with pytest.raises(InputError) as refused:
        target("encoder", given["stage"], given["version"])
    assert refused.value.message == f"--{option} is empty"

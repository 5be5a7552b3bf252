"""Exceptions that carry their exit code and a message written for the user."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: every read imports this module, and typing costs start-up
if TYPE_CHECKING:
    from collections.abc import Callable


class ArtregError(Exception):
    """Base class: every error artreg raises on purpose. Exit code 2 (bad input) by default."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class InputError(ArtregError):
    """Bad input or usage: a file, a field or an argument is wrong (exit 2)."""


class NotFoundError(ArtregError):
    """A name, stage, version or folder that the registry does not hold (exit 2)."""


class ConflictError(ArtregError):
    """The registry already holds what the command would create (exit 2)."""


class GateFailed(ArtregError):
    """One or more promotion gates failed (exit 1); carries the evaluated gates."""

    exit_code = 1

    def __init__(
        self, message: str, results: list[dict[str, object]], *, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.results = results


class IntegrityError(ArtregError):
    """A file's bytes do not match the sha256 recorded for them (exit 1)."""

    exit_code = 1


class PolicyWeakened(IntegrityError):
    """A registry's trust policy is weaker than the one this consumer applied before (exit 1);
    `accept()` records the weaker one as applied, as `artreg trust accept` does."""

    def __init__(self, message: str, *, hint: str, accept: Callable[[], None]) -> None:
        super().__init__(message, hint=hint)
        self.accept = accept


class VerificationFailed(ArtregError):
    """`artreg verify` found problems (exit 1); carries the list."""

    exit_code = 1

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class RequirementUnmet(ArtregError):
    """A requirement is not in production at a compatible version, or requirements form a cycle.

    Exit 1, as for a failed gate: a check failed, and the registry is as it was."""

    exit_code = 1


class ToolError(ArtregError):
    """git or DVC failed underneath us; the message says which command and why (exit 2)."""


class RetryableError(ArtregError):
    """Nothing was changed and the same command may succeed later (exit 4), so CI can retry it."""

    exit_code = 4


class LockBusy(RetryableError):
    """Another live artreg process holds the registry's lock (exit 4)."""


class PushRejected(RetryableError):
    """A concurrent change reached the remote first; the local change was undone (exit 4)."""


class RemoteUnavailable(RetryableError):
    """A git or DVC remote did not answer (exit 4)."""


INTERNAL_ERROR_EXIT = 3  # anything that is not an ArtregError is a bug in artreg


class RetractedPinWarning(UserWarning):
    """A lock file's pin is served, but its version was since deregistered, unassigned,
    deprecated or retired in its registry."""

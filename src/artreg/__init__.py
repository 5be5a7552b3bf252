"""artreg: a Git-native model artifact registry built on DVC.

The public Python API (the seeds' calls work as written):

    from artreg import ArtifactRepository, get_artifact_path, verify_artifact, register_artifact
    repo = ArtifactRepository("artifacts")
    repo.register_training_session(session_id=..., checkpoint_dir=..., config=..., metrics=...)

Names are imported lazily so that `import artreg` (and every read command) stays fast.
"""

from __future__ import annotations

from artreg._version import __version__

# Not typing's TYPE_CHECKING: `artreg list` starts git from this package before anything else
# is imported, and typing alone takes 6 ms. Type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False

_API = (
    "ArtifactRepository",
    "get_artifact_path",
    "verify_artifact",
    "register_artifact",
    "load_registry",
    "save_registry",
)
_ERRORS = (
    "ArtregError",
    "InputError",
    "NotFoundError",
    "ConflictError",
    "GateFailed",
    "IntegrityError",
    "PolicyWeakened",
    "RequirementUnmet",
    "RetractedPinWarning",
    "VerificationFailed",
)
__all__ = [
    "ArtifactRepository",
    "ArtregError",
    "ConflictError",
    "GateFailed",
    "InputError",
    "IntegrityError",
    "NotFoundError",
    "PolicyWeakened",
    "RequirementUnmet",
    "RetractedPinWarning",
    "VerificationFailed",
    "__version__",
    "get_artifact_path",
    "load_registry",
    "register_artifact",
    "save_registry",
    "verify_artifact",
]

if TYPE_CHECKING:
    from typing import Any

    from artreg.api import (
        ArtifactRepository,
        get_artifact_path,
        load_registry,
        register_artifact,
        save_registry,
        verify_artifact,
    )
    from artreg.errors import (
        ArtregError,
        ConflictError,
        GateFailed,
        InputError,
        IntegrityError,
        NotFoundError,
        PolicyWeakened,
        RequirementUnmet,
        RetractedPinWarning,
        VerificationFailed,
    )


def __getattr__(name: str) -> Any:
    if name in _API:
        from artreg import api

        return getattr(api, name)
    if name in _ERRORS:
        from artreg import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'artreg' has no attribute {name!r}")

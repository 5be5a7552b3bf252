"""Rewrite every reference to a moved artreg module (issue 25, step S5 of docs/redesign-plan.md).

The package move is whole modules (`git mv`), plus one split of `render.py` by function. This
script rewrites what points at the old places, so that any branch written against the flat
layout can be brought onto the new one by running it again:

    python scripts/relayout.py                  # src tests benchmarks scripts docs pyproject.toml README.md
    python scripts/relayout.py --check PATH...  # list what would change, write nothing

It rewrites, in Python files, `from artreg.X import ...`, `from artreg import a, X, b` (one
import per new package, with `as` aliases so that code bodies keep their names), `import
artreg.X`, and uses of a split module (`render.to_json` → `fmt.to_json`); and in every
file, dotted names (`"artreg.fileio.os.replace"`, code embedded in strings, import-linter
contracts), `from artreg.X import a` lines in text, and paths `src/artreg/x.py`. Running it
twice changes nothing the second time. Afterwards run `ruff check --fix --select I` and
`ruff format` to sort and wrap the rewritten imports (the script prints the command).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path

# --- the moves of this step (whole modules) -------------------------------------------------------

MAPPING: dict[str, str] = {
    # adapters/: files, hashing, DVC, fault injection, interrupts, JSON schemas
    "artreg.fileio": "artreg.adapters.files",
    "artreg.hashing": "artreg.adapters.hashing",
    "artreg.dvcrepo": "artreg.adapters.dvcrepo",
    "artreg.faults": "artreg.adapters.faults",
    "artreg.interrupts": "artreg.adapters.interrupts",
    "artreg.schemas": "artreg.adapters.schemas",
    # registry/: the domain (names, tags, settings, trust, retirements)
    "artreg.tags": "artreg.registry.tags",
    "artreg.layout": "artreg.registry.layout",
    "artreg.dvcyaml": "artreg.registry.dvcyaml",
    "artreg.requirements": "artreg.registry.requirements",
    "artreg.policy": "artreg.registry.policy",
    "artreg.values": "artreg.registry.values",
    "artreg.trust": "artreg.registry.trust",
    "artreg.retirements": "artreg.registry.retirements",
    "artreg.versionorder": "artreg.registry.versionorder",
    "artreg.trust_ratchet": "artreg.registry.trust_ratchet",
    # artifacts/: what a model file is
    "artreg.checkpoints": "artreg.artifacts.checkpoints",
    "artreg.hflayout": "artreg.artifacts.hflayout",
    "artreg.integrity": "artreg.artifacts.integrity",
    # publishing/: the write side
    "artreg.charts": "artreg.publishing.charts",
    "artreg.ciworkflows": "artreg.publishing.ci",
    "artreg.deployment": "artreg.publishing.deployment",
    "artreg.index": "artreg.publishing.index",
    "artreg.modelcard": "artreg.publishing.modelcard",
    "artreg.modelfolder": "artreg.publishing.modelfolder",
    "artreg.publish": "artreg.publishing.publish",
    "artreg.serverhook": "artreg.publishing.serverhook",
    "artreg.stagefolder": "artreg.publishing.stagefolder",
    "artreg.transaction": "artreg.publishing.transaction",
    "artreg.naming": "artreg.publishing.names",
    # services/: one module per command family; the demo at the edge
    "artreg.features.doctor": "artreg.services.doctor",
    "artreg.features.history": "artreg.services.history",
    "artreg.features.housekeeping": "artreg.services.housekeeping",
    "artreg.features.init": "artreg.services.init",
    "artreg.features.reachability": "artreg.services.reachability",
    "artreg.features.retention": "artreg.services.retention",
    "artreg.features.site": "artreg.services.site",
    "artreg.features.verify": "artreg.services.verify",
    "artreg.features.demo": "artreg.demo",
    # present/: what a person sees (render.py is split, below)
    "artreg.markdown_html": "artreg.present.site.markdown",
}

# --- the moves other helpers make in the same round: the lead fills this in -----------------------

OTHERS: dict[str, str] = {
    # publish (S3): the write side's features became services; promote/release were split by
    # function and their importers rewritten on that branch.
    "artreg.features.register": "artreg.services.register",
    "artreg.features.review": "artreg.services.review",
    # splits (S5)
    "artreg.tagstream": "artreg.adapters.git.tagstream",
    # perf (issue 28): kernel-side copies and the linked cache type
    "artreg.fastcopy": "artreg.adapters.fastcopy",
    # sources (S6): the lock file and pins beside the sources that read them
    "artreg.features.lock": "artreg.sources.lock",
    "artreg.features.pins": "artreg.sources.pins",
    # ocisource (issue 27): the OCI modules in their layers
    "artreg.modelpack": "artreg.artifacts.modelpack",
    "artreg.ociclient": "artreg.adapters.oci",
    "artreg.features.oci_export": "artreg.services.oci_export",
    # dvcsplit (S5/S6): the last flat modules find their package
    "artreg.consumer_cache": "artreg.sources.cache",
    "artreg.location": "artreg.sources.location",
    "artreg.registry_identity": "artreg.sources.identity",
    "artreg.outputs": "artreg.reading.outputs",
    "artreg.bundlefile": "artreg.artifacts.bundlefile",
    "artreg.features.bundle": "artreg.services.bundle",
}

# --- modules split by function: old module -> {name: new module} ----------------------------------

_TEXT, _QUERIES = "artreg.present.text", "artreg.present.queries"
_MARKDOWN, _CONSUMER = "artreg.present.markdown", "artreg.present.consumer"
SPLITS: dict[str, dict[str, str]] = {
    "artreg.render": {
        **dict.fromkeys(
            [
                "written", "to_json", "table", "number", "gate_table", "signature_text", "plain",
                "_tags_text", "tagged", "registered", "promoted", "housekeeping",
                "init_text", "init_json", "verify_json", "verified_text", "doctor_json",
                "doctor_text",
            ],
            _TEXT,
        ),
        **dict.fromkeys(
            [
                "STAGE_COLUMNS", "overview_json", "overview_text", "artifact_text",
                "resolved_json", "resolved_with_files", "history_json", "history_text",
                "_source_json", "_files_json", "lineage_json", "lineage_text", "diff_json",
                "diff_text", "intervals_json", "intervals_text",
            ],
            _QUERIES,
        ),
        **dict.fromkeys(["summary_markdown", "_signature_markdown"], _MARKDOWN),
        **dict.fromkeys(
            [
                "_size", "gc_json", "gc_text", "_gc_phases", "pin_json", "pin_text",
                "pinned_text", "fetched_json", "lock_changes_json", "cache_text", "pruned_text",
                "site_json", "site_text", "accepted_json", "accepted_text",
            ],
            _CONSUMER,
        ),
    },
}  # fmt: skip
# splits (S5): gitrepo, model, signing and formats divided by function.
SPLITS_2 = {
    "artreg.gitrepo": {
        "GIT_ENV": "artreg.adapters.git.run",
        "git": "artreg.adapters.git.run",
        "not_trusted": "artreg.adapters.git.run",
        "run_status": "artreg.adapters.git.run",
        "Process": "artreg.adapters.git.run",
        "run_bytes_in": "artreg.adapters.git.run",
        "batch_process": "artreg.adapters.git.run",
        "toplevel": "artreg.adapters.git.run",
        "head": "artreg.adapters.git.run",
        "current_branch": "artreg.adapters.git.run",
        "_UNREACHABLE": "artreg.adapters.git.run",
        "unreachable": "artreg.adapters.git.run",
        "_ident": "artreg.adapters.git.run",
        "identity": "artreg.adapters.git.run",
        "version": "artreg.adapters.git.run",
        "common_dir": "artreg.adapters.git.run",
        "config_value": "artreg.adapters.git.run",
        "work_tree": "artreg.adapters.git.run",
        "ref_exists": "artreg.adapters.git.run",
        "run_bytes": "artreg.adapters.git.run",
        "remote_error": "artreg.adapters.git.run",
        "for_each_ref": "artreg.adapters.git.read",
        "read_blobs": "artreg.adapters.git.read",
        "creation_commit": "artreg.adapters.git.read",
        "status": "artreg.adapters.git.read",
        "tag_exists": "artreg.adapters.git.read",
        "show_file": "artreg.adapters.git.read",
        "BatchReader": "artreg.adapters.git.read",
        "batch_reader": "artreg.adapters.git.read",
        "CommitInfo": "artreg.adapters.git.read",
        "log_commits": "artreg.adapters.git.read",
        "commit_time": "artreg.adapters.git.read",
        "json_at": "artreg.adapters.git.read",
        "training_code_state": "artreg.adapters.git.read",
        "verify_signature": "artreg.adapters.git.read",
        "is_ancestor": "artreg.adapters.git.read",
        "creation_commits": "artreg.adapters.git.read",
        "pointer_blobs": "artreg.adapters.git.read",
        "changed_files": "artreg.adapters.git.read",
        "_LOST_RACE": "artreg.adapters.git.write",
        "push": "artreg.adapters.git.write",
        "fetch": "artreg.adapters.git.write",
        "add": "artreg.adapters.git.write",
        "commit": "artreg.adapters.git.write",
        "commit_files": "artreg.adapters.git.write",
        "create_tag": "artreg.adapters.git.write",
        "delete_tags": "artreg.adapters.git.write",
        "reset_paths": "artreg.adapters.git.write",
        "move_head": "artreg.adapters.git.write",
        "_IN_PROGRESS": "artreg.adapters.git.write",
        "check_committable": "artreg.adapters.git.write",
        "default_branch": "artreg.adapters.git.history",
        "has_registry_tags": "artreg.adapters.git.history",
        "is_shallow": "artreg.adapters.git.history",
        "missing_history": "artreg.adapters.git.history",
        "complete_history": "artreg.adapters.git.history",
        "upstream_remote": "artreg.adapters.git.history",
        "fetch_history": "artreg.adapters.git.history",
        "remote_tags": "artreg.adapters.git.remote",
        "ls_remote_tags": "artreg.adapters.git.remote",
        "ls_remote_head": "artreg.adapters.git.remote",
        "_ls_remote": "artreg.adapters.git.remote",
        "init_cache_repo": "artreg.adapters.git.remote",
        "cache_repo_intact": "artreg.adapters.git.remote",
        "fetch_objects": "artreg.adapters.git.remote",
        "read_objects": "artreg.adapters.git.remote",
        "set_tags": "artreg.adapters.git.remote",
        "local_tag_objects": "artreg.adapters.git.remote",
    },
    "artreg.model": {
        "_UNSET": "artreg.registry.records",
        "iso": "artreg.registry.records",
        "Requirement": "artreg.registry.records",
        "requirements": "artreg.registry.records",
        "requires_line": "artreg.registry.records",
        "_requires_field": "artreg.registry.records",
        "stage_order": "artreg.registry.records",
        "Event": "artreg.registry.records",
        "Version": "artreg.registry.records",
        "Artifact": "artreg.registry.records",
        "Registry": "artreg.registry.records",
        "GateResult": "artreg.registry.documents",
        "ManifestFile": "artreg.registry.documents",
        "Manifest": "artreg.registry.documents",
        "Source": "artreg.registry.documents",
        "ModelFile": "artreg.registry.documents",
        "ModelInfo": "artreg.registry.documents",
        "Approval": "artreg.registry.documents",
        "Metadata": "artreg.registry.documents",
        "_without_none": "artreg.registry.documents",
    },
    "artreg.signing": {
        "EXTRA_HINT": "artreg.artifacts.signing.keys",
        "CURVES": "artreg.artifacts.signing.keys",
        "require_extra": "artreg.artifacts.signing.keys",
        "installed": "artreg.artifacts.signing.keys",
        "preload": "artreg.artifacts.signing.keys",
        "load_model_signing": "artreg.artifacts.signing.keys",
        "SigningKey": "artreg.artifacts.signing.keys",
        "TrustedKey": "artreg.artifacts.signing.keys",
        "Signer": "artreg.artifacts.signing.keys",
        "_public_key": "artreg.artifacts.signing.keys",
        "_check_curve": "artreg.artifacts.signing.keys",
        "key_fingerprint": "artreg.artifacts.signing.keys",
        "_key_hint": "artreg.artifacts.signing.keys",
        "fingerprint": "artreg.artifacts.signing.keys",
        "trusted_keys": "artreg.artifacts.signing.keys",
        "trusted_names": "artreg.artifacts.signing.keys",
        "load_signing_key": "artreg.artifacts.signing.keys",
        "build_manifest": "artreg.artifacts.signing.statement",
        "precomputed": "artreg.artifacts.signing.statement",
        "GIT_PATHS": "artreg.artifacts.signing.sign",
        "WRITTEN_AFTER": "artreg.artifacts.signing.sign",
        "_ignored": "artreg.artifacts.signing.sign",
        "sign_folder": "artreg.artifacts.signing.sign",
        "SignaturePlan": "artreg.artifacts.signing.sign",
        "_covers": "artreg.artifacts.signing.sign",
        "plan": "artreg.artifacts.signing.sign",
        "Bundle": "artreg.artifacts.signing.verify",
        "parse_bundle": "artreg.artifacts.signing.verify",
        "actual_digests": "artreg.artifacts.signing.verify",
        "differences": "artreg.artifacts.signing.verify",
        "_candidates": "artreg.artifacts.signing.verify",
        "_claimed": "artreg.artifacts.signing.verify",
        "verify_bundle": "artreg.artifacts.signing.verify",
        "committed_signature": "artreg.artifacts.signing.verify",
        "check_folder": "artreg.artifacts.signing.verify",
        "describe": "artreg.artifacts.signing.verify",
    },
    "artreg.formats": {
        "_FOREIGN": "artreg.artifacts.formats",
        "detect": "artreg.artifacts.formats",
        "_detect": "artreg.artifacts.formats",
        "refuse": "artreg.artifacts.formats.base",
        "SAFETENSORS_MAX_HEADER": "artreg.artifacts.formats.safetensors",
        "SAFETENSORS_DTYPE_BITS": "artreg.artifacts.formats.safetensors",
        "_SAFETENSORS_FIX": "artreg.artifacts.formats.safetensors",
        "SafetensorsTensor": "artreg.artifacts.formats.safetensors",
        "SafetensorsHeader": "artreg.artifacts.formats.safetensors",
        "_no_duplicate_keys": "artreg.artifacts.formats.safetensors",
        "safetensors_length": "artreg.artifacts.formats.safetensors",
        "_tensor": "artreg.artifacts.formats.safetensors",
        "check_safetensors": "artreg.artifacts.formats.safetensors",
        "GGUF_MAGIC": "artreg.artifacts.formats.gguf",
        "GGUF_VERSIONS": "artreg.artifacts.formats.gguf",
        "GGUF_DEFAULT_ALIGNMENT": "artreg.artifacts.formats.gguf",
        "GGUF_MAX_DIMS": "artreg.artifacts.formats.gguf",
        "_GGUF_SCALARS": "artreg.artifacts.formats.gguf",
        "_GGML_SIZES": "artreg.artifacts.formats.gguf",
        "_GGUF_FIX": "artreg.artifacts.formats.gguf",
        "GGUFHeader": "artreg.artifacts.formats.gguf",
        "_GGUFReader": "artreg.artifacts.formats.gguf",
        "check_gguf": "artreg.artifacts.formats.gguf",
        "_ONNX_FIX": "artreg.artifacts.formats.onnx",
        "_Truncated": "artreg.artifacts.formats.onnx",
        "_varint": "artreg.artifacts.formats.onnx",
        "_fields": "artreg.artifacts.formats.onnx",
        "ONNXHeader": "artreg.artifacts.formats.onnx",
        "onnx_header": "artreg.artifacts.formats.onnx",
        "_onnx_module": "artreg.artifacts.formats.onnx",
        "check_onnx": "artreg.artifacts.formats.onnx",
        "PICKLE_FIX": "artreg.artifacts.formats.pytorch",
        "LEGACY_TORCH": "artreg.artifacts.formats.pytorch",
        "check_zip": "artreg.artifacts.formats.pytorch",
        "_tensors": "artreg.artifacts.formats.pytorch",
        "check_pytorch": "artreg.artifacts.formats.pytorch",
        "pytorch_info": "artreg.artifacts.formats.pytorch",
        "SAFETENSORS": "artreg.registry.formatnames",
        "ONNX": "artreg.registry.formatnames",
        "GGUF": "artreg.registry.formatnames",
        "PYTORCH": "artreg.registry.formatnames",
        "FORMATS": "artreg.registry.formatnames",
        "SUFFIXES": "artreg.registry.formatnames",
        "_SUFFIX_FORMATS": "artreg.registry.formatnames",
        "FormatInfo": "artreg.registry.formatnames",
        "from_suffix": "artreg.registry.formatnames",
    },
}
SPLITS.update(SPLITS_2)
# dvcsplit: DVC's adapter divided into configuration/repository, on-disk format, remotes; the
# state module into the pure fold (registry/) and the loader that reads the tags (sources/).
_DVC_REPO, _DVC_CACHE, _DVC_REMOTE = (
    "artreg.adapters.dvc.repo",
    "artreg.adapters.dvc.cache",
    "artreg.adapters.dvc.remote",
)
_DVCREPO_SPLIT = {
    **dict.fromkeys(
        [
            "DVC_DIR", "DVCIGNORE", "CopiedFile", "_config", "dvc_config", "_config_error",
            "remote_url", "_dvc_repo", "dvc_repo", "_object_path", "object_path", "RegistryDvc",
            "FolderFilter", "init", "cache_types", "configure",
        ],
        _DVC_REPO,
    ),
    **dict.fromkeys(
        [
            "cache_dir", "CacheWriter", "tree_object", "pointer_text", "read_pointer",
            "pointer_out", "pointer_files", "cached_object", "_POINTERS", "_LISTINGS", "_KEEP",
            "_pointer_md5", "_cached_listing", "check_dir_objects", "_tree_oids", "_target_oids",
            "target_oids", "cached_bytes", "remove_cached", "dir_entries", "_listing_map",
            "dir_entry",
        ],
        _DVC_CACHE,
    ),
    **dict.fromkeys(
        [
            "_abs", "push", "_fetch", "fetch_objects", "fetch_checked_checkout",
            "local_remote_object", "missing_in_remote", "remote_problem", "_odb_problem",
            "RemoteStore", "remote_name", "open_remote", "RemoteSource", "remote_store",
            "RemoteReader",
        ],
        _DVC_REMOTE,
    ),
}  # fmt: skip
_FOLD, _STATE = "artreg.registry.fold", "artreg.sources.state"
SPLITS_3 = {
    # before the package move (`artreg.dvcrepo`) and after it (`artreg.adapters.dvcrepo`)
    "artreg.dvcrepo": _DVCREPO_SPLIT,
    "artreg.adapters.dvcrepo": _DVCREPO_SPLIT,
    "artreg.state": {
        **dict.fromkeys(
            ["replay_order", "Folding", "_update_stages", "fold", "_find_or_add", "current_events"],
            _FOLD,
        ),
        **dict.fromkeys(
            ["Folders", "parse_for_each_ref", "resolve_folders", "load", "complete"], _STATE
        ),
        "FOR_EACH_REF_FORMAT": "artreg.adapters.git.tagstream",
    },
}  # fmt: skip
SPLITS.update(SPLITS_3)
# shape (S6): the last modules of features/ go. A clone's own reads (resolution, signature,
# pull, verify, export) join the clone source; the verified bytes of a stage folder (work tree,
# DVC cache, remote) are an artifacts/ primitive that readers and writers share; list and show
# answers join the sources that give them; log, lineage and diff are a service.
_STAGEBYTES, _CLONE_FETCH = "artreg.artifacts.stagebytes", "artreg.sources.clone_fetch"
_LISTING, _QUERY_SERVICE = "artreg.sources.listing", "artreg.services.queries"
SPLITS_4 = {
    "artreg.features.fetch": {
        **dict.fromkeys(["stage_file", "_CACHES", "_dvc_cache", "prefetch"], _STAGEBYTES),
        **dict.fromkeys(
            [
                "resolve", "resolve_with_requirements", "pointers", "absent_from_checkout",
                "check_signature", "signature_status", "verify", "pull", "_retired",
                "_explain_checkout_failure", "export", "export_all",
            ],
            _CLONE_FETCH,
        ),
        "Resolved": "artreg.reading.resolve",
    },
    "artreg.features.queries": {
        **dict.fromkeys(
            [
                "StageEntry", "ArtifactSummary", "overview", "incomplete_clone", "show_entry",
                "_fetch", "show_artifact", "with_signatures",
            ],
            _LISTING,
        ),
        **dict.fromkeys(
            [
                "history", "LineageStep", "TrainingCode", "_step", "lineage", "DiffSide",
                "MetricDelta", "FileChange", "Diff", "_numbers", "_side", "diff", "_spec",
            ],
            _QUERY_SERVICE,
        ),
    },
}  # fmt: skip
# The registry as of a moment is a clone's read: services/ sits above sources/ in the layers.
_ASOF, _HISTORY = "artreg.sources.asof", "artreg.services.history"
SPLITS_4["artreg.services.history"] = {
    **dict.fromkeys(
        ["_DATE", "_DATETIME", "Moment", "parse_moment", "state_as_of", "load_as_of"], _ASOF
    ),
    # what held each stage when is pure (given events and commits): the domain's; services
    # keeps the command that reads them (plan §1.1: `registry/history.py`)
    **dict.fromkeys(
        [
            "Interval", "who", "folder_of_event", "intervals", "_touched", "_open", "_close",
            "_MERGE_PR", "_SQUASH_PR", "pull_request_number", "PullRequests", "landing_commits",
        ],
        "artreg.registry.history",
    ),
    "history": _HISTORY,
}  # fmt: skip
SPLITS.update(SPLITS_4)

# issue 25, layers: every upward edge cut, so import-linter keeps no ignore. The tag loader is the
# domain's (registry/, below the write and the read side that both load tags); the consumer cache
# and what it rests on, and the trust ratchet that keeps its records there, are the read side's
# (reading/, below sources/); a URL's own ratchet (it fetches that URL's history) joins the URL.
LAYERS: dict[str, str] = {
    "artreg.sources.state": "artreg.registry.state",
    "artreg.sources.cache": "artreg.reading.cache",
    "artreg.sources.cache_wait": "artreg.reading.cache_wait",
    "artreg.sources.exact_folder": "artreg.reading.exact_folder",
    "artreg.sources.tmp_owner": "artreg.reading.tmp_owner",
    "artreg.sources.identity": "artreg.reading.identity",
    # what a folder's data needs (gc and bundles share it): beside the bytes it is about
    "artreg.services.reachability": "artreg.artifacts.reachability",
    # values handed in from Python made plain, and how a bad one is shown (stdlib only): the
    # adapters that read files and run git show bad values with it
    "artreg.registry.values": "artreg.adapters.values",
    # bundle import's check of a bundle's tip, with the checks of verify it runs (below)
    "artreg.services.bundleverify": "artreg.publishing.release_verify",
}
MAPPING.update(LAYERS)
_RATCHET = "artreg.reading.trust_ratchet"
SPLITS["artreg.registry.trust_ratchet"] = {
    **dict.fromkeys(
        [
            "Reader", "ACCEPT_COMMAND", "ACCEPT_KEYWORD", "Applied", "weakenings", "read_record",
            "write_record", "clone_record", "read_or_adopt", "check_clone", "Accepted",
            "accept_clone", "accepted", "_clone_keys", "clone_reader", "views_at",
            "policy_commits", "weakening_commit", "refusal", "weakening_history",
        ],
        _RATCHET,
    ),
    **dict.fromkeys(
        ["check_remote", "_remote_weakening_commit", "accept_remote"], "artreg.sources.remote"
    ),
    "_accepted": _RATCHET,  # now public: sources/remote's accept_remote uses it
}  # fmt: skip
# The gate table is written into model cards (publishing/), so it lives there; present/ shows it.
SPLITS[_TEXT] = {
    **dict.fromkeys(
        [
            "written", "to_json", "table", "number", "_tags_text", "tagged", "registered",
            "promoted", "signature_text", "housekeeping", "init_text", "init_json", "verify_json",
            "verified_text", "doctor_json", "doctor_text", "plain",
        ],
        _TEXT,
    ),
    "gate_table": "artreg.publishing.gatetable",
}  # fmt: skip
# The portable-name rule (what git can check out everywhere) is a file-system edge: hashing
# walks every folder with it, so it moves below the tag grammar that also uses it.
SPLITS["artreg.registry.tags"] = {
    **dict.fromkeys(
        [
            "STAGES", "MAX_NAME_LENGTH", "_NAME", "_SEMVER", "NAME_RE", "ID_RE", "SEMVER_RE",
            "TAG_RE", "shown", "PORTABLE_RULE", "_check_portable", "case_twin", "validate_name",
            "validate_id", "validate_semver", "is_semver", "semver_key", "validate_stage",
            "Action", "VERSION_ACTIONS", "STAGE_ACTIONS", "ASSIGN", "UNASSIGN", "REGISTER",
            "DEREGISTER", "TagName", "format_tag", "parse_tag",
            "Spec", "SPEC_FORMS", "_bad", "parse_spec", "validate_any_stage", "_parse_spec",
            "REQUIREMENT_FORM", "parse_requirement", "_Tagged", "next_counter", "next_tag_time",
            "MESSAGE_KEYS", "_one_line", "tag_message", "message_fields",
        ],
        "artreg.registry.tags",
    ),
    **dict.fromkeys(
        [
            "FOLDER_RULE", "WINDOWS_FORBIDDEN", "_windows_reserved", "portable_problem",
            "portable_collision",
        ],
        "artreg.adapters.portable",
    ),
}  # fmt: skip
# Whether a clone lacks registry tags is a question about the registry, asked over git.
_GITHISTORY = "artreg.adapters.git.history"
SPLITS[_GITHISTORY] = {
    **dict.fromkeys(
        ["default_branch", "is_shallow", "upstream_remote", "fetch_history", "default_base"],
        _GITHISTORY,
    ),
    **dict.fromkeys(
        ["has_registry_tags", "missing_history", "complete_history"],
        "artreg.registry.clone_history",
    ),
}  # fmt: skip
# verify's checks of tags, registry.json and dvc.yaml, which bundle import runs on a bundle's
# tip, move below the services (the two private ones became public: check_tags,
# check_index_and_dvc_yaml; a branch that calls them by the old names renames them by hand).
SPLITS["artreg.services.verify"] = {
    **dict.fromkeys(
        [
            "LARGE_FILE_BYTES", "CREDENTIAL_KEYS", "_check_lightweight_tags", "undeclared_stages",
            "_check_requirements", "_check_git_contents", "_refuse_while_changing",
            "_check_journal", "_check_remote", "_check_absent_bytes", "_fetch_command",
            "_check_model_signatures", "_check_policy_weakenings", "_weakening_acknowledged",
            "_check_signatures", "_check_untagged", "verify_registry", "inside",
        ],
        "artreg.services.verify",
    ),
    **dict.fromkeys(
        ["_check_tags", "_check_index_and_dvc_yaml", "reachable", "release_problems"],
        "artreg.publishing.release_verify",
    ),
}  # fmt: skip

# The name a file that used the whole split module (`render.x`) binds each piece to.
# Short, so that a call keeps its line (`fmt.to_json`, as `render.to_json` did).
SPLIT_ALIASES: dict[str, str] = {
    _TEXT: "fmt",
    _QUERIES: "queries",
    _MARKDOWN: "markdown",
    _CONSUMER: "consumer",
    "artreg.adapters.git.run": "gitrun",
    "artreg.adapters.git.read": "gitread",
    "artreg.adapters.git.write": "gitwrite",
    "artreg.adapters.git.history": "githistory",
    "artreg.adapters.git.remote": "gitremote",
    "artreg.registry.records": "records",
    "artreg.registry.documents": "documents",
    "artreg.registry.formatnames": "formatnames",
    "artreg.artifacts.signing.keys": "signing_keys",
    "artreg.artifacts.signing.statement": "statement",
    "artreg.artifacts.signing.sign": "signing",
    "artreg.artifacts.signing.verify": "signature",
    "artreg.artifacts.formats": "formats",
    "artreg.artifacts.formats.base": "format_base",
    "artreg.artifacts.formats.safetensors": "safetensors_format",
    "artreg.artifacts.formats.gguf": "gguf_format",
    "artreg.artifacts.formats.onnx": "onnx_format",
    "artreg.artifacts.formats.pytorch": "pytorch_format",
    _DVC_REPO: "dvcrepo",
    _DVC_CACHE: "dvccache",
    _DVC_REMOTE: "dvcremote",
    _FOLD: "folding",
    _STATE: "state",
    "artreg.adapters.git.tagstream": "tagstream",
    _STAGEBYTES: "stagebytes",
    _CLONE_FETCH: "clone_fetch",
    _LISTING: "listing",
    _QUERY_SERVICE: "query_service",
    "artreg.reading.resolve": "reading_resolve",
    _ASOF: "asof",
    _HISTORY: "history",
    "artreg.registry.history": "registry_history",
    _RATCHET: "trust_ratchet",
    "artreg.sources.remote": "remote",
    "artreg.publishing.gatetable": "gatetable",
    "artreg.registry.tags": "tags",
    "artreg.adapters.portable": "portable",
    "artreg.registry.clone_history": "clone_history",
    "artreg.services.verify": "verify",
    "artreg.publishing.release_verify": "release_verify",
}

DEFAULT_PATHS = ["src", "tests", "benchmarks", "scripts", "docs", "pyproject.toml", "README.md"]
SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".sh", ".j2"}
WARNINGS: list[str] = []
ONLY: list[str] = []  # --only: the new packages whose moves apply (all when empty)


def _kept(new: str) -> bool:
    return not ONLY or any(new == p or new.startswith(p + ".") for p in ONLY)


def moves() -> dict[str, str]:
    return {old: new for old, new in {**MAPPING, **OTHERS}.items() if _kept(new)}


def splits() -> dict[str, dict[str, str]]:
    return {old: table for old, table in SPLITS.items() if all(map(_kept, table.values()))}


def _warn(where: str, what: str) -> None:
    WARNINGS.append(f"{where}: {what}")


def new_module(dotted: str) -> str:
    """The new dotted name of a module (or of a name inside one): longest moved prefix wins,
    component by component, so `artreg.trust_ratchet` never matches `artreg.trust`."""
    table = moves()
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        head = ".".join(parts[:cut])
        if head in table:
            return ".".join([table[head], *parts[cut:]])
    return dotted


def _split_of(dotted: str) -> tuple[str, str | None] | None:
    """(split module, the name after it) when `dotted` is or is inside a split module."""
    for old in splits():
        if dotted == old:
            return old, None
        if dotted.startswith(old + "."):
            return old, dotted[len(old) + 1 :].split(".", 1)[0]
    return None


# --- imports -------------------------------------------------------------------------------------


def _alias(name: str, asname: str | None) -> str:
    return f"{name} as {asname}" if asname and asname != name else name


def _from_import(
    module: str, names: list[tuple[str, str | None]], used: dict[str, set[str]], where: str
) -> list[str] | None:
    """New statements for `from module import names`, or None when nothing moves."""
    groups: dict[str, list[str]] = {}
    changed = False
    for name, asname in names:
        full = f"{module}.{name}"
        if full in splits():  # `from artreg import render`: one import per piece used
            bound = asname or name
            pieces = sorted(used.get(bound, set()))
            if not pieces:
                # Kept as it is: the code's uses were rewritten already (this is the pass over
                # text), or there are none to tell which piece it needs.
                if bound in used:
                    _warn(where, f"{bound} ({full}) is imported but no `{bound}.name` use found")
                groups.setdefault(module, []).append(_alias(name, asname))
            for target in pieces:
                parent, _, last = target.rpartition(".")
                groups.setdefault(parent, []).append(_alias(last, SPLIT_ALIASES[target]))
            changed = True
        elif (
            full in moves()
        ):  # `from artreg import fileio` -> `from artreg.adapters import files as fileio`
            parent, _, last = new_module(full).rpartition(".")
            groups.setdefault(parent, []).append(_alias(last, asname or name))
            changed = True
        elif module in splits():
            target = splits()[module].get(name)
            if target is None:
                _warn(where, f"{name} is not in the split table of {module}")
                target = module
            groups.setdefault(target, []).append(_alias(name, asname))
            changed = True
        else:
            target = new_module(module)
            changed |= target != module
            groups.setdefault(target, []).append(_alias(name, asname))
    if not changed:
        return None
    return [f"from {mod} import {', '.join(items)}" for mod, items in groups.items()]


def _split_uses(tree: ast.AST) -> dict[str, set[str]]:
    """For each local name bound to a split module: the new modules its attributes live in."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                if f"{node.module}.{a.name}" in splits():
                    bound[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in splits() and a.asname:
                    bound[a.asname] = a.name
    used: dict[str, set[str]] = {name: set() for name in bound}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
        ):
            target = splits()[bound[node.value.id]].get(node.attr)
            if target is not None:
                used[node.value.id].add(target)
    return used


def _rewrite_split_uses(text: str, used: dict[str, set[str]], tree: ast.AST, where: str) -> str:
    """`render.to_json(...)` -> `fmt.to_json(...)`, at the exact AST positions."""
    if not used:
        return text
    old_of: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                if f"{node.module}.{a.name}" in splits():
                    old_of[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in splits() and a.asname:
                    old_of[a.asname] = a.name
    edits: list[tuple[int, int, int, str]] = []  # (line, col, length, replacement)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in old_of
        ):
            target = splits()[old_of[node.value.id]].get(node.attr)
            if target is None:
                _warn(where, f"{node.value.id}.{node.attr}: not in the split table")
                continue
            v = node.value
            edits.append((v.lineno, v.col_offset, len(v.id), SPLIT_ALIASES[target]))
    lines = text.splitlines(keepends=True)
    for line, col, length, new in sorted(edits, reverse=True):
        # ast offsets are in UTF-8 bytes
        raw = lines[line - 1].encode()
        lines[line - 1] = (raw[:col] + new.encode() + raw[col + length :]).decode()
    return "".join(lines)


def rewrite_python(text: str, where: str) -> str:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        _warn(where, f"not parsed ({exc}); text rules only")
        return rewrite_text(text, where, python=False)
    used = _split_uses(tree)
    text = _rewrite_split_uses(text, used, tree, where)
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    spans: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        new: list[str] | None = None
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not node.module.startswith("artreg"):
                continue
            names = [(a.name, a.asname) for a in node.names]
            new = _from_import(node.module, names, used, where)
        elif isinstance(node, ast.Import):
            if not any(a.name.startswith("artreg.") for a in node.names):
                continue
            renamed = [(new_module(a.name), a.asname) for a in node.names]
            if any(
                n != a.name or a.name in splits()
                for (n, _), a in zip(renamed, node.names, strict=True)
            ):
                if any(a.name in splits() for a in node.names):
                    _warn(where, f"line {node.lineno}: `import` of a split module; fix by hand")
                    continue
                new = [f"import {_alias(n, s)}" for n, s in renamed]
        if new is None:
            continue
        first, last = node.lineno, node.end_lineno or node.lineno
        head = lines[first - 1].encode()[: node.col_offset].decode()
        tail = lines[last - 1].encode()[node.end_col_offset or 0 :].decode()
        if head.strip() or tail.strip().startswith(";"):
            _warn(where, f"line {first}: import shares its line with other code; fix by hand")
            continue
        inner = "".join(lines[first : last - 1])
        if "#" in inner:
            _warn(where, f"line {first}: comment inside a rewritten import was dropped")
        spans.append((first, last, head + ("\n" + head).join(new) + tail))
    for first, last, replacement in sorted(spans, reverse=True):
        lines[first - 1 : last] = [replacement]
    return rewrite_text("".join(lines), where, python=True)


# --- dotted names, import lines in text, file paths -------------------------------------------------

DOTTED = re.compile(r"(?<![\w.])artreg((?:\.[A-Za-z_]\w*)+)")
TEXT_IMPORT = re.compile(
    r"(?P<indent>^[ \t]*|(?<=[\"'])|(?<=; )|(?<=`))from (?P<module>artreg(?:\.\w+)*) import "
    r"(?P<names>\w+(?: as \w+)?(?:, \w+(?: as \w+)?)*)",
    re.MULTILINE,
)
PATH = re.compile(r"(?<![\w.])(?P<prefix>(?:src/)?artreg/)(?P<rel>(?:\w+/)*\w+)\.py\b")
STRUCTURE_KEY = re.compile(r"\"(?P<rel>(?:\w+/)*\w+)\.py\"")


def _dotted(match: re.Match[str], where: str) -> str:
    dotted = match.group(0)
    split = _split_of(dotted)
    if split is not None:
        old, name = split
        target = splits()[old].get(name or "")
        if target is None:
            _warn(where, f"{dotted}: a split module; no new place known")
            return dotted
        return target + dotted[len(old) :]
    return new_module(dotted)


def _path_of(rel: str) -> str:
    """`features/demo` -> `demo`, `schemas/__init__` -> `adapters/schemas/__init__`."""
    parts = rel.split("/")
    init = parts[-1] == "__init__"
    dotted = "artreg." + ".".join(parts[:-1] if init else parts)
    moved = new_module(dotted)
    if moved == dotted:
        return rel
    out = moved.split(".")[1:]
    return "/".join([*out, "__init__"] if init else out)


def rewrite_text(text: str, where: str, python: bool) -> str:
    def line_import(m: re.Match[str]) -> str:
        names = []
        for item in m.group("names").split(", "):
            name, _, asname = item.partition(" as ")
            names.append((name, asname or None))
        new = _from_import(m.group("module"), names, {}, where)
        if new is None:
            return m.group(0)
        joiner = "; " if python else "\n" + m.group("indent")
        return m.group("indent") + joiner.join(new)

    # In Python files the real imports were rewritten above; this reaches code in strings.
    text = TEXT_IMPORT.sub(line_import, text)
    text = DOTTED.sub(lambda m: _dotted(m, where), text)
    text = PATH.sub(lambda m: m.group("prefix") + _path_of(m.group("rel")) + ".py", text)
    if where.endswith("test_structure.py"):
        text = STRUCTURE_KEY.sub(lambda m: f'"{_path_of(m.group("rel"))}.py"', text)
    return text


# --- driver ----------------------------------------------------------------------------------------


def files(paths: Iterable[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix in SUFFIXES
                and not any(part.startswith(".") for part in f.parts)
                and f.name != "redesign-plan.md"  # the plan names the old modules on purpose
                and f.resolve() != Path(__file__).resolve()
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS)
    parser.add_argument("--check", action="store_true", help="list changes, write nothing")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="apply only the moves into this package (artreg.adapters; repeatable)",
    )
    args = parser.parse_args(argv)
    ONLY[:] = args.only
    changed: list[Path] = []
    for path in files(args.paths):
        try:
            before = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        where = str(path)
        if path.suffix == ".py":
            after = rewrite_python(before, where)
        else:
            after = rewrite_text(before, where, python=False)
        if after != before:
            changed.append(path)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    for path in changed:
        print(("would rewrite " if args.check else "rewrote ") + str(path))
    for warning in WARNINGS:
        print(f"warning: {warning}", file=sys.stderr)
    if changed and not args.check:
        print(
            "now: ruff check --fix --select I src tests benchmarks scripts && ruff format src tests benchmarks scripts"
        )
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())

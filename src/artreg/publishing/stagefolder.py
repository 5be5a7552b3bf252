"""A stage folder built in a private temporary place before it is moved into the registry.

A StageBuilder copies each input once (hashing while copying), writes the DVC pointers for large
files, and keeps the sha256 and size of every file for the folder's manifest. What DVC decides
(where its cache is, how work-tree files link to it, what its ignore rules exclude) comes from
artreg.adapters.dvc, which asks DVC.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from artreg.adapters import schemas
from artreg.adapters.dvc.cache import CacheWriter, pointer_text
from artreg.adapters.dvc.repo import CopiedFile, RegistryDvc
from artreg.adapters.faults import point
from artreg.adapters.files import dump_json
from artreg.adapters.hashing import FileDigest, ProgressFn, copy_and_hash
from artreg.errors import InputError
from artreg.publishing.names import check_folder_case
from artreg.publishing.transaction import state_dir
from artreg.registry.documents import Manifest, ManifestFile
from artreg.registry.layout import StageDir

PLUMBING = frozenset({"manifest.json", ".gitignore"})  # files the manifest does not list


@dataclass
class StageBuilder:
    root: Path
    entry: StageDir
    progress: ProgressFn | None = None
    files: dict[str, FileDigest] = field(default_factory=dict)
    dvc_files: set[str] = field(default_factory=set)
    ignored: list[str] = field(default_factory=list)
    dvc: RegistryDvc | None = None  # DVC's view of the registry, when the caller opened it already

    def __post_init__(self) -> None:
        check_folder_case(self.root, [self.entry.relpath])  # before a byte is copied
        self.workdir = state_dir(self.root) / f"build-{uuid.uuid4().hex}"
        self.path = self.workdir / self.entry.entry
        self.path.mkdir(parents=True)
        try:
            self.dvc = self.dvc or RegistryDvc.open(self.root)
            self.cache = CacheWriter(self.dvc, self.workdir)
        except BaseException:
            self.cleanup()
            raise

    def _final(self, rel: str) -> Path:
        """Where `rel` will be in the registry: DVC's ignore rules are asked about that path."""
        return self.entry.path(self.root) / rel

    # -- git-tracked files ------------------------------------------------------------------
    def write_text(self, rel: str, text: str) -> FileDigest:
        return self.write_bytes(rel, text.encode("utf-8"))

    def write_bytes(self, rel: str, data: bytes) -> FileDigest:
        """A small generated file (text, a chart) kept in git."""
        dst = self.path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        digest = FileDigest(hashlib.sha256(data).hexdigest(), len(data))
        self.files[rel] = digest
        return digest

    def copy(self, rel: str, src: Path) -> FileDigest:
        digest = copy_and_hash(src, self.path / rel, self.progress)
        self.files[rel] = digest
        return digest

    # -- DVC-tracked outputs ----------------------------------------------------------------
    def track_file(
        self, rel: str, src: Path | None = None, data: bytes | None = None
    ) -> FileDigest:
        """Copy (or write) one large file as a DVC output of its own: `<rel>.dvc`."""
        dst = self.path / rel
        assert self.dvc is not None
        self.dvc.check_output(self._final(rel), is_dir=False)
        point("build:file")
        if src is not None:
            sha, md5, size = self.cache.copy(src, dst, self.progress)
        else:
            assert data is not None
            sha, md5, size = self.cache.write(data, dst)
        self._pointer(rel, md5, size)
        digest = FileDigest(sha, size)
        self.files[rel] = digest
        self.dvc_files.add(rel)
        return digest

    def track_dir(
        self,
        rel: str,
        sources: Sequence[tuple[str, Path]],
        extra: Callable[[dict[str, FileDigest]], dict[str, bytes]] | None = None,
        check: Callable[[str, FileDigest], None] | None = None,
    ) -> dict[str, FileDigest]:
        """Copy files into folder `rel`, tracked by DVC as one directory output `<rel>.dvc`.

        `extra`, given the digests of the copied files, returns generated files to add (a
        checkpoint manifest that lists those digests). `sources` are what DVC would track of
        the folder (see RegistryDvc.folder_filter). `check`, given a file's path inside `rel`
        and the digest of the bytes copied, may raise to refuse them before the DVC cache
        holds them (a source verified by its copy's hash, not by a second read).
        """
        assert self.dvc is not None
        self.dvc.check_output(self._final(rel), is_dir=True)
        copied: list[CopiedFile] = []
        digests: dict[str, FileDigest] = {}

        def one(item: tuple[str, Path]) -> tuple[str, str, str, int]:
            inner, src = item
            point("build:file")
            accept = (lambda digest: check(inner, digest)) if check is not None else None
            return (inner, *self.cache.copy(src, self.path / rel / inner, self.progress, accept))

        # Files on both cores: copying is bound by hashing and writing, not by one disk read.
        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            for inner, sha, md5, size in pool.map(one, sources):
                copied.append(CopiedFile(inner, sha, md5, size))
                digests[inner] = FileDigest(sha, size)
        generated = extra(dict(digests)) if extra else {}
        for inner, data in generated.items():
            rule = self.dvc.ignored_by(self._final(f"{rel}/{inner}"), is_dir=False)
            if rule is not None:
                raise InputError(
                    f"{self.entry.relpath}/{rel}/{inner}: artreg writes this file, but DVC "
                    f"ignores it ({rule}), so DVC would not track it",
                    hint="remove that pattern from the .dvcignore that holds it",
                )
            sha, md5, size = self.cache.write(data, self.path / rel / inner)
            copied.append(CopiedFile(inner, sha, md5, size))
            digests[inner] = FileDigest(sha, size)
        tree_oid = self.cache.store_tree(copied)
        self._pointer(rel, tree_oid, sum(c.size for c in copied), nfiles=len(copied))
        for inner, digest in digests.items():
            self.files[f"{rel}/{inner}"] = digest
            self.dvc_files.add(f"{rel}/{inner}")
        return digests

    def _pointer(self, rel: str, md5: str, size: int, nfiles: int | None = None) -> None:
        point("build:pointer")
        rel_path = Path(rel)
        pointer = self.path / rel_path.parent / f"{rel_path.name}.dvc"
        pointer.write_text(pointer_text(rel_path.name, md5, size, nfiles), encoding="utf-8")
        self.ignored.append(rel)

    # -- finishing -------------------------------------------------------------------------
    def manifest_files(self) -> dict[str, ManifestFile]:
        """Every file written so far, as the manifest records it."""
        return {
            rel: ManifestFile(d.sha256, d.size, rel in self.dvc_files)
            for rel, d in sorted(self.files.items())
        }

    def write_manifest(self, manifest: Manifest) -> None:
        """manifest.json, schema-checked; it does not list itself."""
        data = manifest.to_json()
        schemas.validate(data, "manifest", f"{self.entry.relpath}/manifest.json")
        self.write_text("manifest.json", dump_json(data))
        del self.files["manifest.json"]

    def finish_gitignore(self) -> None:
        """`.gitignore` entries for DVC outputs, in the folders where `dvc add` would put them."""
        by_folder: dict[Path, list[str]] = {}
        for rel in self.ignored:
            p = Path(rel)
            by_folder.setdefault(p.parent, []).append(f"/{p.name}")
        for folder, names in by_folder.items():
            (self.path / folder / ".gitignore").write_text("\n".join(sorted(names)) + "\n")

    def pointers(self) -> list[str]:
        """Repo-relative paths of the `.dvc` pointers this folder will hold."""
        return [f"{self.entry.relpath}/{rel}.dvc" for rel in self.ignored]

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

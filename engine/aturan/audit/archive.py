"""The ruleset archive: a content-addressed copy of every ruleset text a log's decisions were
made under, kept beside the log, so a record can be re-derived after the rulesets folder has
moved on (or the file has been edited, or deleted).

`<log folder>/aturan-rulesets/sha256-<hex>/<name>/<version>.yaml` holds the exact bytes whose
sha256 is the digest a decision names; `catalogue-<hex>/aturan.yaml` the project file of a
policy folder whose catalogue has that digest (the bundled catalogue comes with aturan). Each copy is written once (to a temporary name, then
renamed into place, so concurrent writers and crashes never leave half a file) and never
rewritten; several logs in one folder share the archive, since a digest names one text."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..language.project import PROJECT_FILE, find_project, load_project
from ..language.repository import RulesetCollection, discover

ARCHIVE_DIR = "aturan-rulesets"


def _digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class RulesetArchive:
    def __init__(self, root: Path):
        self.root = root

    @classmethod
    def beside(cls, log: Path) -> RulesetArchive:
        return cls(log.parent / ARCHIVE_DIR)

    def folder(self, digest: str) -> Path:
        return self.root / digest.replace(":", "-")

    def file(self, digest: str) -> Path | None:
        """The archived copy of the text with this digest, if there is one."""
        folder = self.folder(digest)
        if not folder.is_dir():
            return None
        return next(iter(sorted(folder.glob("*/*.yaml"))), None)

    def project_file(self, digest: str) -> Path | None:
        """The archived project file of the catalogue with this digest, if there is one."""
        file = self.root / digest.replace("sha256:", "catalogue-") / PROJECT_FILE
        return file if file.is_file() else None

    def store(self, collection: RulesetCollection, roots: Iterable[str | Path]) -> list[str]:
        """Copy every version of `collection` not yet archived, and its project file when its
        catalogue is a policy folder's, reading them under `roots` (the folders it was loaded
        from). Returns what could not be found with the digest it was loaded with (the file
        changed since)."""
        roots = [Path(r) for r in roots]
        missing = []
        catalogue = collection.catalogue
        if not catalogue.bundled and self.project_file(catalogue.digest) is None:
            file, _ = find_project(roots)
            found, _ = load_project(file) if file is not None else (None, [])
            if file is not None and found is not None and found.digest == catalogue.digest:
                self._write(self.root / catalogue.digest.replace("sha256:", "catalogue-")
                            / PROJECT_FILE, file.read_bytes())
            else:
                missing.append(f"the project file of catalogue {catalogue.digest}")
        wanted = {rs.digest: rs for rs in collection.versions if self.file(rs.digest) is None}
        if not wanted:
            return missing
        for file, _ in discover(roots):
            try:
                raw = file.read_bytes()
            except OSError:
                continue
            rs = wanted.pop(_digest(raw), None)
            if rs is not None:
                self._write(self.folder(rs.digest) / rs.name / f"{rs.version}.yaml", raw)
        return missing + sorted(rs.key for rs in wanted.values())

    def _write(self, target: Path, raw: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def find_text(digest: str, archives: Iterable[RulesetArchive],
              roots: Iterable[str | Path] = ()) -> Path | None:
    """A ruleset file whose bytes have `digest`: from an archive (its copy checked: an altered
    copy is no copy), else from the rulesets folders `roots`."""
    for archive in archives:
        found = archive.file(digest)
        if found is not None and _digest(found.read_bytes()) == digest:
            return found
    for file, _ in discover([Path(r) for r in roots if Path(r).exists()]):
        try:
            if _digest(file.read_bytes()) == digest:
                return file
        except OSError:
            continue
    return None


def find_project_text(digest: str, archives: Iterable[RulesetArchive],
                      roots: Iterable[str | Path] = ()) -> Path | None:
    """A project file whose catalogue has `digest`: archived, else the one of `roots`."""
    candidates = [f for f in (a.project_file(digest) for a in archives) if f is not None]
    folder_file, _ = find_project([Path(r) for r in roots if Path(r).exists()])
    candidates += [folder_file] if folder_file is not None else []
    for file in candidates:
        found, _ = load_project(file)
        if found is not None and found.digest == digest:
            return file
    return None

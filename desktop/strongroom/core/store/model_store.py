"""The verified model store: where imported models live, read-only, with their provenance.

Layout under the data folder::

    store/blobs/sha256-<hex>             each distinct file once, read-only
    store/models/<name>/<version>/       the files under their own names (hard links to
                                         blobs) and provenance.json; read-only
    store/staging/<import>/              work in progress; removed on every start
    store/.lock                          one import or cleanup at a time, across processes

An import copies each listed file from the drive into staging (the kernel copies; the
copy is then hashed as it lands, on a second thread, so the bytes checked are exactly the
bytes stored), compares size and SHA-256 with every manifest that lists it, fsyncs,
checks GGUF headers in a separate process, and only then moves the finished version into
`models/` with one rename. A crash at any point leaves either no version or a complete
one. A version is named by the digest of its file list, and blobs by their own digests, so
importing the same bytes twice stores them once.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import shutil
import stat
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from strongroom import __version__
from strongroom.core.atomic import fsync_path
from strongroom.core.errors import StrongroomError
from strongroom.core.progress import Progress
from strongroom.core.transfer.drive import unsafe_transfer_entries, verify_drive
from strongroom.core.transfer.file_checks import (
    CheckReport,
    FileResult,
    Listed,
    Status,
    check_files,
    judge,
    open_listed,
    workers,
)
from strongroom.core.transfer.gguf_check import GGUFCheck, check_gguf
from strongroom.core.transfer.manifests import collision_problem, model_file_problem, name_collisions
from strongroom.core.transfer.offered import Drive, DriveModel, safe_model_name
from strongroom.core.transfer.safe_files import Digest, copy_and_hash

PROVENANCE = "provenance.json"
PROVENANCE_FORMAT = "strongroom.provenance"


class ImportRefused(StrongroomError):
    """The import was refused; nothing was stored. ``results`` names each file's outcome."""

    def __init__(self, message: str, results: list[FileResult] | None = None):
        super().__init__(message)
        self.results = results or []


@dataclass(frozen=True)
class StoredVersion:
    name: str
    version: str
    folder: Path
    provenance: dict
    provenance_sha256: str = ""  # of provenance.json's bytes, as they are now

    @property
    def store_id(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def files(self) -> list[dict]:
        return self.provenance.get("files", [])

    def sha256_of(self, inside: str) -> str | None:
        """The recorded SHA-256 of the file at ``inside`` (a path within the version)."""
        return next((f["sha256"] for f in self.files if f.get("path") == inside), None)

    def gguf_files(self) -> list[Path]:
        """The model files a chat can load: each .gguf, or the first part of a split one."""
        paths = []
        for item in self.files:
            name = item["path"]
            if name.endswith(".gguf") and ("-of-" not in name or "-00001-of-" in name):
                paths.append(self.folder / name)
        return paths


@dataclass
class ImportResult:
    version: StoredVersion
    already_present: bool
    results: list[FileResult] = field(default_factory=list)
    new_bytes: int = 0  # bytes not already in the store


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ModelStore:
    def __init__(self, root: Path, create: bool = True):
        """The store at ``root``; its folders are made unless ``create`` is False (a store
        only looked at, which may not exist: it then holds no versions)."""
        self.root = root
        self.blobs = root / "blobs"
        self.models_dir = root / "models"
        self.staging = root / "staging"
        if create:
            for folder in (root, self.blobs, self.models_dir, self.staging):
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- locking and cleanup ---------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, wait: bool = True):
        """Hold the store's lock; with ``wait=False`` yield False at once if it is taken."""
        with open(self.root / ".lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def clean_up(self) -> list[str]:
        """Remove unfinished imports and blobs no version uses; return what was removed.

        Skipped (returns []) while another process is importing."""
        removed = []
        with self._locked(wait=False) as held:
            if not held:
                return removed
            for leftover in self.staging.iterdir():
                _remove_tree(leftover)
                removed.append(str(leftover))
            for blob in self.blobs.iterdir():
                if blob.is_file() and blob.stat().st_nlink == 1:  # no version links to it
                    blob.unlink()
                    removed.append(str(blob))
        return removed

    # -- reading -----------------------------------------------------------------------------

    def versions(self) -> list[StoredVersion]:
        found = []
        if not self.models_dir.is_dir():
            return found  # a store that was never made
        for model in sorted(self.models_dir.iterdir(), key=lambda p: p.name.lower()):
            if not model.is_dir():
                continue
            for version in sorted(model.iterdir()):
                stored = _read_version(model.name, version)
                if stored is not None:  # else not a finished version
                    found.append(stored)
        return found

    def verify(self, version: StoredVersion, recorded_provenance: str | None = None,
               on_progress: Callable[[Progress], None] | None = None,
               cancel: threading.Event | None = None) -> CheckReport:
        """Hash a stored version again and compare it with its provenance record, and the
        record itself with the digest its import left in the audit log
        (``recorded_provenance``; None when no import record was found)."""
        from strongroom.core.transfer.manifests import Entry

        listed = {f["path"]: Listed(f["path"], [(PROVENANCE, Entry(f["path"], f["sha256"], f["size_bytes"]))])
                  for f in version.files}
        report = CheckReport(version.folder, checked_with=[f"{PROVENANCE} of {version.store_id}"])
        if recorded_provenance is None:
            report.notes.append(f"the audit log holds no import record for {version.store_id}, so its "
                                f"{PROVENANCE} could not be checked against one")
        elif recorded_provenance != version.provenance_sha256:
            report.problems.append(
                f"{PROVENANCE} of {version.store_id} was changed after the import: its SHA-256 is "
                f"{version.provenance_sha256}, but the audit log recorded {recorded_provenance} when "
                "the model was imported. Do not use this model; import it again from its drive.")
        else:
            report.checked_with.append(f"the digest of {PROVENANCE} its import recorded in the audit log")
        # Stored files are hard links to blobs by design, so links are allowed here.
        report.results = check_files(version.folder, listed, exempt={PROVENANCE},
                                     on_progress=on_progress, cancel=cancel, allow_hard_links=True)
        return report

    # -- importing ---------------------------------------------------------------------------

    def import_model(self, drive: Drive, model: DriveModel, *,
                     on_progress: Callable[[Progress], None] | None = None,
                     cancel: threading.Event | None = None,
                     check_header: Callable[[Path], GGUFCheck] = check_gguf,
                     signature: dict | None = None) -> ImportResult:
        """Copy, verify and store ``model`` from ``drive``. Raises `ImportRefused` (nothing
        stored) on any failure and `Cancelled` (nothing stored) if cancelled. ``signature``
        (who signed it, the bundle, the policy it was imported under) goes into the
        provenance record as it is: the signature was checked with the drive."""
        problems = list(model.problems) + [p for p in drive.problems]
        if problems:
            raise ImportRefused("The drive's manifests cannot be trusted: " + "; ".join(problems))
        if model.manifest is None or not model.entries:
            raise ImportRefused(f"{model.relative or model.name} has no manifest listing its files.")
        preflight = self._preflight(drive, model)
        if any(not r.ok for r in preflight):
            raise ImportRefused(_failure_message(preflight), preflight)

        name = safe_model_name(model.name)
        version = content_id(model)
        with self._locked():
            existing = self.models_dir / name / version
            if (existing / PROVENANCE).is_file():
                # Nothing is copied, but the drive's files must still be what they claim:
                # a damaged drive is refused even when the store already has good bytes.
                checked = verify_drive(drive, [model.name], on_progress, cancel)
                if not checked.ok:
                    raise ImportRefused(_failure_message(checked.failures()) if checked.failures()
                                        else "; ".join(checked.problems), checked.results)
                return ImportResult(_read_version(name, existing), True, checked.results)
            work = self.staging / uuid.uuid4().hex
            work.mkdir(mode=0o700)
            try:
                return self._import_into(work, drive, model, name, version, on_progress,
                                         cancel, check_header, signature)
            finally:
                _remove_tree(work)

    def _preflight(self, drive: Drive, model: DriveModel) -> list[FileResult]:
        """Problems visible without reading: unsafe names (in the model's manifest or anywhere
        in the transfer manifest) and files the model's manifest does not list."""
        results = unsafe_transfer_entries(drive)
        collisions = name_collisions(sorted(model.entries))
        for path in sorted(model.entries):
            problem = model_file_problem(path) or (
                collision_problem(collisions[path]) if path in collisions else None)
            if problem:
                results.append(FileResult(model.drive_path(path), Status.UNSAFE_PATH, problem))
        known = {model.drive_path(p) for p in model.entries}
        known |= {model.drive_path(m) for m in model.manifest_files()}
        extras = check_files(drive.root, {}, scan=model.extra_scan, exempt=known,
                             unlisted_detail="not listed in the model's manifests")
        return results + extras

    def _import_into(self, work: Path, drive: Drive, model: DriveModel, name: str, version: str,
                     on_progress, cancel, check_header, signature: dict | None) -> ImportResult:
        files_dir = work / "files"
        total = sum(e.size or 0 for e in model.entries.values())
        progress = Progress(total, on_progress, cancel)
        jobs = []
        for path, _entry in sorted(model.entries.items(), key=lambda kv: -(kv[1].size or 0)):
            drive_path = model.drive_path(path)
            claims = model.claims_for(path)  # every manifest's word (an Ollama blob: its digest)
            transfer_entry = drive.transfer_entries.get(drive_path)
            if transfer_entry is not None:
                claims.append(("TRANSFER_MANIFEST.sha256", transfer_entry))
            target = files_dir / path
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            jobs.append((path, drive_path, target, Listed(drive_path, claims)))
        # Files are copied and hashed side by side (biggest first); each is fsynced only
        # after all are copied, so the disk writes back while the CPUs hash.
        with ThreadPoolExecutor(max_workers=workers()) as pool:
            futures = [pool.submit(_copy_verified, drive.root, target, listed, progress)
                       for _, drive_path, target, listed in jobs]
            try:
                results = [future.result() for future in futures]
            except BaseException:
                progress.cancel.set()  # a cancel: stop the other copies too
                raise
        progress.finish()
        failures = [r for r in results if not r.ok]
        if failures:
            raise ImportRefused(_failure_message(failures), results)
        staged = {path: (target, result.actual_sha256, result.actual_size)
                  for (path, _, target, _), result in zip(jobs, results, strict=True)}
        for target, _, _ in staged.values():
            fsync_path(target)
        for folder in {t.parent for t, _, _ in staged.values()}:
            fsync_path(folder)

        checks = {}
        for path, (target, _, _) in staged.items():
            if path.endswith(".gguf"):
                check = check_header(target)
                if not check.ok:
                    raise ImportRefused(f"{model.drive_path(path)} was refused before loading: "
                                       f"{check.problem}", results)
                checks[path] = check.as_dict()

        version_dir = work / "version"
        version_dir.mkdir(mode=0o700)
        new_bytes = 0
        file_records = []
        for path, (target, sha256, size) in sorted(staged.items()):
            blob = self.blobs / f"sha256-{sha256}"
            if blob.exists():
                target.unlink()
            else:
                os.chmod(target, 0o444)
                os.rename(target, blob)
                new_bytes += size
            link = version_dir / path
            link.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.link(blob, link)
            file_records.append({"path": path, "sha256": sha256, "size_bytes": size,
                                 "blob": blob.name, "result": "OK",
                                 **({"gguf": checks[path]} if path in checks else {})})
        fsync_path(self.blobs)

        provenance = self._provenance(drive, model, file_records, results)
        provenance["signature"] = signature
        record = version_dir / PROVENANCE
        with open(record, "x", encoding="utf-8") as handle:
            json.dump(provenance, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(record, 0o444)
        for folder in sorted({p.parent for p in version_dir.rglob("*")} | {version_dir},
                             key=lambda p: -len(p.parts)):
            fsync_path(folder)
            os.chmod(folder, 0o555)

        destination = self.models_dir / name
        destination.mkdir(exist_ok=True, mode=0o755)
        os.rename(version_dir, destination / version)  # the moment the version appears
        fsync_path(destination)
        return ImportResult(_read_version(name, destination / version), False, results, new_bytes)

    def _provenance(self, drive: Drive, model: DriveModel, files: list[dict],
                    results: list[FileResult]) -> dict:
        manifest = model.manifest
        extra = model.json_manifest.extra if model.json_manifest else {}
        manifest_file = (model.drive_path(manifest.source.name) if manifest is not model.other_manifest
                         else str(manifest.source.relative_to(drive.root)))
        source = extra.get("source") if isinstance(extra.get("source"), dict) else {}
        hub_checks = sorted({e.hub_check or "none" for e in model.entries.values()})
        return {
            "format": PROVENANCE_FORMAT,
            "format_version": 1,
            "model_name": safe_model_name(model.name),
            "model_id": model.model_id,
            "revision": model.revision,
            "commit": source.get("resolved_commit"),
            "hub_check": hub_checks[0] if len(hub_checks) == 1 else hub_checks,
            "manifest": {
                "file": manifest_file,
                "kind": manifest.kind,
                "sha256": manifest.raw_sha256,
                "content": manifest.raw.decode("utf-8", "replace"),  # the copy that was verified
                "source": source or None,
            },
            "other_manifest": (
                {"file": model.drive_path(model.checksums.source.name),
                 "sha256": model.checksums.raw_sha256}
                if model.json_manifest is not None and model.checksums is not None else None),
            "drive": {
                "path": str(drive.root),
                "label": drive.label,
                "transfer_manifest_sha256": drive.transfer.raw_sha256 if drive.transfer else None,
                "metadata": drive.metadata,
                "notes": drive.notes + model.notes,
            },
            "imported_by": getpass.getuser(),
            "imported_at": _now(),
            "imported_with": f"Strongroom {__version__}",
            "files": files,
            "checks": [r.as_dict() for r in results],
        }


def _read_version(name: str, folder: Path) -> StoredVersion | None:
    try:
        raw = (folder / PROVENANCE).read_bytes()
        record = json.loads(raw)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    return StoredVersion(name, folder.name, folder, record, hashlib.sha256(raw).hexdigest())


def content_id(model: DriveModel) -> str:
    """A version's name: the digest of its file list (paths and SHA-256s), so the same
    files arriving again, even with a freshly written manifest, are the same version."""
    listing = "".join(f"{e.sha256}  {p}\n" for p, e in sorted(model.entries.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()[:16]


def _failure_message(results: list[FileResult]) -> str:
    failures = [r for r in results if not r.ok]
    lines = [r.line() for r in failures[:10]]
    more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
    return "Nothing was imported. " + "; ".join(lines) + more


def _copy_verified(root: Path, target: Path, listed: Listed, progress: Progress) -> FileResult:
    """Copy one file into staging and hash the copy; compare with every claim."""
    opened = open_listed(root, listed)
    if isinstance(opened, FileResult):
        return opened
    source, status = opened
    try:
        sha256, copied = copy_and_hash(source, target, progress, listed.path, fsync=False)
        outcome = Digest(sha256, copied)
    except OSError as error:
        outcome = error
    finally:
        os.close(source)
    return judge(listed, status.st_size, outcome, copied=True)


def _remove_tree(path: Path) -> None:
    """Delete ``path`` even where the store made folders read-only."""
    if not os.path.lexists(path):
        return
    for folder, dirs, _files in os.walk(path):
        for d in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(folder, d), stat.S_IRWXU)
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)

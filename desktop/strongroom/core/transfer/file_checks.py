"""Checking files on disk against what manifests say about them.

`check_files` is the engine: given the files one or more manifests list (by path relative
to a root folder), it reports each as OK, MISSING, SIZE MISMATCH, CHECKSUM MISMATCH,
UNSAFE PATH, NOT A REGULAR FILE or UNREADABLE, and reports as EXTRA every file found in
the scanned folders that no manifest lists. Sizes are compared before anything is hashed;
files are hashed in parallel threads (hashlib releases the GIL), biggest first.
"""

from __future__ import annotations

import enum
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from strongroom.core.display import printable
from strongroom.core.progress import Cancelled, Progress
from strongroom.core.transfer.manifests import (
    Entry,
    collision_problem,
    name_collisions,
    path_problem,
)
from strongroom.core.transfer.safe_files import (
    CHUNK,
    Digest,
    UnsafeFileError,
    file_kind,
    hash_fd,
    open_beneath,
)
from strongroom.core.units import human_size


class Status(enum.Enum):
    OK = "OK"
    MISSING = "MISSING"
    SIZE_MISMATCH = "SIZE MISMATCH"
    CHECKSUM_MISMATCH = "CHECKSUM MISMATCH"
    EXTRA = "EXTRA"
    UNSAFE_PATH = "UNSAFE PATH"
    NOT_REGULAR = "NOT A REGULAR FILE"
    UNREADABLE = "UNREADABLE"


@dataclass
class FileResult:
    path: str  # relative to the checked root
    status: Status
    detail: str = ""
    expected_sha256: str | None = None
    actual_sha256: str | None = None
    expected_size: int | None = None
    actual_size: int | None = None
    listed_in: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def line(self) -> str:
        text = f"{self.status.value:<18} {printable(self.path)}"
        return text + (f": {printable(self.detail)}" if self.detail else "")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass
class CheckReport:
    """The outcome of checking one target (a drive, a model folder, a bundle)."""

    root: Path
    results: list[FileResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # manifests that could not be used
    notes: list[str] = field(default_factory=list)  # things worth knowing that are not failures
    checked_with: list[str] = field(default_factory=list)  # "<manifest> (sha256 <hex>)"
    signatures: list = field(default_factory=list)  # drive_signatures.SignatureVerdict, each file
    signers: dict = field(default_factory=dict)  # model name -> the verdict that covers it

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.results) and all(r.ok for r in self.results)

    def failures(self) -> list[FileResult]:
        return [r for r in self.results if not r.ok]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status.value] = counts.get(result.status.value, 0) + 1
        return counts

    def summary(self) -> str:
        """A report a person can read: failures first, then the totals."""
        lines = [f"Checked {printable(str(self.root))}"]
        lines += [f"  using {what}" for what in self.checked_with]
        lines += [f"PROBLEM            {printable(p)}" for p in self.problems]
        lines += [r.line() for r in self.failures()]
        lines += [printable(v.line()) for v in self.signatures if v.valid]
        lines += [f"note: {printable(n)}" for n in self.notes]
        ok_count = sum(1 for r in self.results if r.ok)
        total = sum(r.actual_size or 0 for r in self.results if r.ok)
        if self.ok:
            lines.append(f"All {ok_count:,} files verified ({human_size(total)}). Nothing is missing, "
                         "changed or extra.")
        else:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()) if s != "OK")
            problems = (f"{len(self.problems)} problem(s) with the manifests or signatures; "
                        if self.problems else "")
            lines.append(f"VERIFICATION FAILED: {problems}{counts + '; ' if counts else ''}"
                         f"{ok_count:,} files OK. Do not use these files.")
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps({
            "root": str(self.root),
            "ok": self.ok,
            "counts": self.counts(),
            "checked_with": self.checked_with,
            "problems": self.problems,
            "notes": self.notes,
            "signatures": [{"file": v.file, "valid": v.valid, "fingerprint": v.fingerprint,
                            "signer": v.signer.name if v.signer else None, "problem": v.problem}
                           for v in self.signatures],
            "files": [r.as_dict() for r in self.results],
        }, indent=2)  # ASCII escapes: a hostile name cannot break the output


@dataclass
class Listed:
    """A file at least one manifest lists, with what each manifest says."""

    path: str
    claims: list[tuple[str, Entry]]  # (manifest label, entry)

    @property
    def size(self) -> int | None:
        return next((e.size for _, e in self.claims if e.size is not None), None)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.claims)


def workers() -> int:
    """Threads for hashing: one per usable CPU, at most 8."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1)))


def check_files(root: Path, listed: dict[str, Listed], *, scan: list[str] = ("",),
                exempt: set[str] = frozenset(),
                on_progress: Callable[[Progress], None] | None = None,
                cancel: threading.Event | None = None,
                allow_hard_links: bool = False,
                unlisted_detail: str = "not listed in any manifest") -> list[FileResult]:
    """Check every listed file under ``root``, and look for unlisted files in ``scan``
    (folders relative to ``root``; "" is all of it). Raises `Cancelled` if cancelled."""
    results: dict[str, FileResult] = {}
    safe: dict[str, Listed] = {}
    collisions = name_collisions(sorted(listed))
    for path, item in listed.items():
        problem = path_problem(path)
        if problem is None and path in collisions:
            problem = collision_problem(collisions[path])
        if problem is not None:
            results[path] = FileResult(path, Status.UNSAFE_PATH, problem, listed_in=item.labels)
        else:
            safe[path] = item

    # Every file is opened and checked (kind, link count, size) before any is hashed, then
    # closed: a drive of ten thousand files never holds more open than there are workers.
    sizes: dict[str, os.stat_result] = {}
    for path, item in safe.items():
        checked = open_listed(root, item, allow_hard_links)
        if isinstance(checked, FileResult):
            results[path] = checked
        else:
            os.close(checked[0])
            sizes[path] = checked[1]
    progress = Progress(sum(status.st_size for status in sizes.values()), on_progress, cancel)
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        order = sorted(sizes, key=lambda p: -sizes[p].st_size)
        futures = {path: pool.submit(_reopen_and_hash, root, safe[path], sizes[path],
                                     allow_hard_links, progress) for path in order}
        try:
            for path in order:
                results[path] = futures[path].result()
        except BaseException:
            progress.cancel.set()  # stop the other workers promptly
            raise
    progress.finish()

    for path, kind, error in _unlisted(root, scan, set(listed) | set(exempt)):
        if error is not None:  # a folder that cannot be listed may hide anything
            results.setdefault(path, FileResult(path, Status.UNREADABLE,
                                                f"this folder cannot be read ({error})"))
        else:
            detail = unlisted_detail + ("" if kind == "regular file" else f" ({kind})")
            results[path] = FileResult(path, Status.EXTRA, detail)
    return [results[p] for p in sorted(results)]


def open_listed(root: Path, item: Listed, allow_hard_links: bool = False
                ) -> tuple[int, os.stat_result] | FileResult:
    """Open the listed file safely and check its size against the manifests before any
    reading; return (fd, its stat), or the result that says why it cannot be checked."""
    expected = item.claims[0][1]
    path = item.path
    try:
        fd, status = open_beneath(root, path, allow_hard_links)
    except FileNotFoundError:
        return FileResult(path, Status.MISSING, "listed but not on the drive",
                          expected.sha256, None, item.size, None, item.labels)
    except UnsafeFileError as error:
        return FileResult(path, Status.NOT_REGULAR, error.strerror, expected.sha256, None,
                          item.size, None, item.labels)
    except OSError as error:
        return FileResult(path, Status.UNREADABLE, f"cannot be opened ({error.strerror})",
                          expected.sha256, None, item.size, None, item.labels)
    if item.size is not None and status.st_size != item.size:
        os.close(fd)
        return FileResult(path, Status.SIZE_MISMATCH,
                          f"{status.st_size:,} bytes, the manifest says {item.size:,}",
                          expected.sha256, None, item.size, status.st_size, item.labels)
    return fd, status


def _reopen_and_hash(root: Path, item: Listed, checked: os.stat_result, allow_hard_links: bool,
                     progress: Progress) -> FileResult:
    """Open the file again (it was checked and closed), make sure it is still the file that
    was checked, and hash it."""
    opened = open_listed(root, item, allow_hard_links)
    if isinstance(opened, FileResult):
        return opened
    fd, status = opened
    try:
        if (status.st_dev, status.st_ino) != (checked.st_dev, checked.st_ino):
            return FileResult(item.path, Status.NOT_REGULAR,
                              "it was replaced by another file while the drive was being checked",
                              item.claims[0][1].sha256, None, item.size, status.st_size, item.labels)
        try:
            outcome = hash_fd(fd, progress, item.path, bytearray(CHUNK))
        except Cancelled:
            raise
        except OSError as error:
            outcome = error
        return judge(item, status.st_size, outcome)
    finally:
        os.close(fd)


def judge(item: Listed, opened_size: int, outcome: Digest | OSError,
          copied: bool = False) -> FileResult:
    """The result for a listed file whose bytes were read (or ``copied``) with ``outcome``:
    their digest, or the error that stopped the reading."""
    path = item.path
    expected = item.claims[0][1]
    reading = "copied" if copied else "read"
    if isinstance(outcome, OSError):
        action = "copying" if copied else "reading"
        return FileResult(path, Status.UNREADABLE, f"{action} failed ({outcome.strerror})",
                          expected.sha256, None, item.size, opened_size, item.labels)
    digest = outcome
    if digest.size != opened_size:
        return FileResult(path, Status.SIZE_MISMATCH,
                          f"the file changed while it was being {reading} ({opened_size:,} bytes "
                          f"when opened, {digest.size:,} {reading})", expected.sha256,
                          digest.sha256, item.size, digest.size, item.labels)
    wrong = [label for label, entry in item.claims if entry.sha256 != digest.sha256]
    if wrong:
        right = [label for label, entry in item.claims if entry.sha256 == digest.sha256]
        detail = (f"matches {', '.join(right)} but not {', '.join(wrong)}" if right
                  else "its content is not what the manifest lists")
        return FileResult(path, Status.CHECKSUM_MISMATCH, detail,
                          next(e.sha256 for label, e in item.claims if label in wrong),
                          digest.sha256, item.size, digest.size, item.labels)
    return FileResult(path, Status.OK, "", expected.sha256, digest.sha256, item.size,
                      digest.size, item.labels)


def _unlisted(root: Path, scan: list[str], known: set[str]):
    """(relative path, kind, None) of every non-folder under the scanned folders not in
    ``known``, and (folder, "folder", reason) for each folder that cannot be listed."""
    for folder in scan:
        start = root / folder if folder else root
        if not start.is_dir() or start.is_symlink():
            continue
        stack = [start]
        while stack:
            current = stack.pop()
            try:
                entries = list(os.scandir(current))
            except OSError as error:
                yield printable(os.path.relpath(current, root)), "folder", error.strerror
                continue
            for entry in entries:
                rel = os.path.relpath(entry.path, root).replace(os.sep, "/")
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                        continue
                    kind = file_kind(entry.stat(follow_symlinks=False))
                except OSError:
                    kind = "file that cannot be examined"
                if rel not in known:
                    yield printable(rel), kind, None

"""Importing models from a drive: which step, what is allowed, what happens next. No Qt here.

    CHOOSE_DRIVE → CHOOSE_MODELS → VERIFY → REVIEW → IMPORT → DONE
                                     └──────────┴────────┴──→ FAILED

The one import workflow: the Qt wizard (strongroom.ui.models.import_wizard) shows these steps
(it asks `can_advance` to enable Next, calls `advance`, and runs `run_verify` /
`run_import` on a worker thread), and `strongroom import` walks the same steps on the
terminal. Nothing reaches the store before the IMPORT step; a failure at any step goes to
FAILED with a message naming the file and the problem; every step is recorded in the
audit log, and a step that cannot be recorded does not happen.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from strongroom.core.audit.events import Auditor, AuditUnavailable
from strongroom.core.display import printable
from strongroom.core.inference.gguf_header import GGUFError, read_gguf_info
from strongroom.core.progress import Cancelled, Progress
from strongroom.core.store.lifecycle import Lifecycle, LifecycleError
from strongroom.core.store.model_store import ImportRefused, ImportResult, ModelStore
from strongroom.core.transfer.drive import (
    find_removable_drives,
    open_drive,
    verify_drive,
)
from strongroom.core.transfer.file_checks import CheckReport, FileResult
from strongroom.core.transfer.offered import Drive, DriveModel
from strongroom.core.transfer.trust import TrustPolicy
from strongroom.core.units import human_count, human_size


class Step(enum.Enum):
    CHOOSE_DRIVE = "Choose a drive"
    CHOOSE_MODELS = "Choose models"
    VERIFY = "Verify"
    REVIEW = "Review"
    IMPORT = "Import"
    DONE = "Done"
    FAILED = "Failed"


@dataclass
class ReviewItem:
    """What the security officer reads before saying yes to one model."""

    name: str
    model_id: str
    revision: str
    commit: str
    files: list[tuple[str, int | None]]
    total_size: int | None
    quantization: str
    parameters: str
    context_length: str
    chat_template: str
    hub_check: str
    warnings: list[str] = field(default_factory=list)
    signed_by: str = "not signed"  # "Alice (1a2b 3c4d …)" when a trusted key vouches for it
    policy: str = ""  # what this workstation requires of signatures

    @property
    def claims(self) -> str:
        """Whose word the origin (model id, revision, commit, hub check) is."""
        return "the signer's claim" if self.signed_by != "not signed" else \
            "the drive's claim; nothing vouches for it"

    def lines(self) -> list[str]:
        """The review, one line each; everything the drive said is shown escaped."""
        size = human_size(self.total_size) if self.total_size is not None else "unknown size"
        p = printable
        lines = [f"{p(self.name)}: {p(self.model_id)}",
                 f"  {'Signed by ' + self.signed_by if self.signed_by != 'not signed' else 'Not signed'}"
                 f"; {self.policy}",
                 f"  revision {p(self.revision)}, commit {p(self.commit)} ({self.claims})",
                 f"  {len(self.files)} file(s), {size}"]
        lines += [f"    {p(n)} ({human_size(s) if s is not None else 'size not recorded'})"
                  for n, s in self.files]
        lines += [f"  quantization {p(self.quantization)}, {p(self.parameters)} parameters, "
                  f"context {p(self.context_length)}, chat template: {p(self.chat_template)}",
                  f"  checked against the hub: {p(self.hub_check)} ({self.claims})"]
        lines += [f"  warning: {p(w)}" for w in self.warnings]
        return lines


class ImportWorkflow:
    def __init__(self, store: ModelStore, drive_finder: Callable[[], list[Path]] = find_removable_drives,
                 auditor: Auditor | None = None, trust: TrustPolicy | None = None):
        self.store = store
        self.auditor = auditor
        self.trust = trust or TrustPolicy()
        self._find_drives = drive_finder
        self.step = Step.CHOOSE_DRIVE
        self.drive: Drive | None = None
        self.selected: list[str] = []
        self.report: CheckReport | None = None
        self.imported: list[ImportResult] = []
        self.failure: str | None = None
        self.failed_files: list[FileResult] = []

    # -- choosing ----------------------------------------------------------------------------

    def candidate_drives(self) -> list[Path]:
        return self._find_drives()

    def choose_drive(self, path: Path) -> str | None:
        """Open ``path``; return why it cannot be used, or None. Stays on this step."""
        drive = open_drive(Path(path))
        if not drive.models:
            self.drive = None
            return "; ".join(drive.problems) or f"{path} offers no models."
        self.drive = drive
        self.selected = [m.name for m in drive.models if not m.problems]
        return None

    def choose_models(self, names: list[str]) -> None:
        if self.drive is None:
            raise RuntimeError("choose a drive first")
        for name in names:
            self.drive.model(name)  # raises KeyError with a message for an unknown name
        self.selected = list(names)

    def offered(self) -> list[DriveModel]:
        return list(self.drive.models) if self.drive else []

    # -- navigation --------------------------------------------------------------------------

    def can_advance(self) -> bool:
        if self.step is Step.CHOOSE_DRIVE:
            return self.drive is not None
        if self.step is Step.CHOOSE_MODELS:
            return bool(self.selected)
        if self.step is Step.VERIFY:
            return self.report is not None and self.report.ok
        if self.step is Step.REVIEW:
            return True
        if self.step is Step.IMPORT:
            return len(self.imported) == len(self.selected)
        return False

    def advance(self) -> Step:
        if not self.can_advance():
            raise RuntimeError(f"cannot leave {self.step.value} yet")
        order = [Step.CHOOSE_DRIVE, Step.CHOOSE_MODELS, Step.VERIFY, Step.REVIEW, Step.IMPORT,
                 Step.DONE]
        self.step = order[order.index(self.step) + 1]
        if self.step is Step.VERIFY:
            self.report = None
        return self.step

    def advance_to(self, step: Step) -> Step:
        """Advance step by step until ``step`` (a script's walk through the wizard)."""
        while self.step is not step:
            self.advance()
        return self.step

    def back(self) -> Step:
        """One step back; allowed until the import starts."""
        previous = {Step.CHOOSE_MODELS: Step.CHOOSE_DRIVE, Step.VERIFY: Step.CHOOSE_MODELS,
                    Step.REVIEW: Step.VERIFY, Step.FAILED: Step.CHOOSE_MODELS}
        if self.step in previous:
            self.step = previous[self.step]
            if self.step is not Step.VERIFY:
                self.report = None
            self.failure, self.failed_files = None, []
        return self.step

    def fail(self, message: str, files: list[FileResult] = ()) -> None:
        """Go to FAILED with ``message`` (naming the file and problem) and the files at fault."""
        self.step = Step.FAILED
        self.failure = message
        self.failed_files = [f for f in files if not f.ok]

    # -- the long steps (run on a worker thread) -----------------------------------------------

    def run_verify(self, on_progress: Callable[[Progress], None] | None = None,
                   cancel: threading.Event | None = None) -> CheckReport:
        if self.step is not Step.VERIFY:
            raise RuntimeError("verification runs in the Verify step")
        # The whole drive, as `strongroom verify` checks it: a drive that verify refuses is
        # never imported, in part or in whole, whichever models were chosen.
        report = verify_drive(self.drive, None, on_progress, cancel, self.trust)  # may raise Cancelled
        self.report = report
        self._record(lambda a: a.drive_verified(self.drive.root, report))
        if self.step is Step.FAILED:
            return report
        if not report.ok:
            for name in self.selected:
                self._record(lambda a, n=name: a.import_refused(self.drive.root, n,
                                                                "the drive did not verify"))
                if self.step is Step.FAILED:  # the audit log's own message says why
                    return report
            first = (report.problems or [r.line() for r in report.failures()])[0]
            self.fail(f"The drive did not verify, so nothing will be imported. First problem: {first}",
                       report.results)
        return report

    def review(self) -> list[ReviewItem]:
        return [self._review(self.drive.model(name)) for name in self.selected]

    def _review(self, model: DriveModel) -> ReviewItem:
        warnings = list(model.notes)
        source = (model.json_manifest.extra.get("source") if model.json_manifest else None) or {}
        ggufs = [n for n in model.entries if n.endswith(".gguf")]
        quantization = parameters = context = template = "unknown"
        if not ggufs:
            warnings.append("there is no .gguf file: nothing in this model can be chatted with")
        else:
            try:
                info = read_gguf_info(self.drive.root / model.drive_path(ggufs[0]))
                quantization, parameters = info.quantization, human_count(info.parameter_count)
                context = f"{info.context_length:,} tokens" if info.context_length else "unknown"
                template = "yes" if info.chat_template else "no (a generic one will be used)"
            except GGUFError as error:
                warnings.append(str(error))
        checks = sorted({e.hub_check or "none" for e in model.entries.values()})
        if checks == ["none"]:
            warnings.append("these files were not checked against a model hub when the drive was "
                            "made; only the drive's own manifests vouch for them")
        if model.json_manifest is None and model.manifest and model.manifest.kind == "sha256sum":
            warnings.append("only checksums.sha256 describes this model: file sizes and the model's "
                            "origin are not recorded")
        return ReviewItem(
            name=model.name, model_id=model.model_id, revision=model.revision or "unknown",
            commit=source.get("resolved_commit") or "not recorded",
            files=[(n, e.size) for n, e in sorted(model.entries.items())],
            total_size=model.total_size, quantization=quantization, parameters=parameters,
            context_length=context, chat_template=template, hub_check=", ".join(checks),
            warnings=warnings, signed_by=self._signer_of(model), policy=self.trust.describe())

    def _signer_of(self, model: DriveModel) -> str:
        verdict = self.report.signers.get(model.name) if self.report else None
        return verdict.signer.label if verdict is not None else "not signed"

    def run_import(self, on_progress: Callable[[Progress], None] | None = None,
                   cancel: threading.Event | None = None) -> list[ImportResult]:
        if self.step is not Step.IMPORT:
            raise RuntimeError("importing happens in the Import step")
        self.imported = []
        for name in self.selected:
            try:
                verdict = self.report.signers.get(name) if self.report else None
                result = self.store.import_model(
                    self.drive, self.drive.model(name), on_progress=on_progress, cancel=cancel,
                    signature=verdict.record(self.trust) if verdict else
                    {"signer": None, "policy": self.trust.describe()})
            except ImportRefused as error:
                reason = str(error)
                self._record(lambda a, name=name, reason=reason: a.import_refused(self.drive.root, name, reason))
                self.fail(f"{name}: {reason}", error.results)
                break
            except OSError as error:
                self.fail(f"{name} could not be written into the store ({error.strerror}: "
                          f"{error.filename or self.store.root}); nothing of it was stored.")
                break
            except Cancelled:
                self._record(lambda a, name=name: a.import_refused(self.drive.root, name, "cancelled"))
                self.fail(f"Cancelled while importing {name}; {name} was not stored"
                           + (f" ({', '.join(r.version.name for r in self.imported)} already were)"
                              if self.imported else "") + ".", [])
                break
            self.imported.append(result)
            self._record(lambda a, result=result: a.import_finished(self.drive.root, result))
            if self.step is not Step.FAILED:
                try:  # tested and promoted before a chat uses it
                    Lifecycle(self.store, self.auditor).stage(result.version,
                                                               not result.already_present)
                except (LifecycleError, AuditUnavailable) as error:
                    self.fail(f"{name} was stored but could not be marked as staged: {error}")
            if self.step is Step.FAILED:
                break
        return self.imported

    def _record(self, write: Callable[[Auditor], None]) -> None:
        """Record in the audit log; an import that cannot be recorded does not continue."""
        if self.auditor is None:
            return
        try:
            write(self.auditor)
        except AuditUnavailable as error:
            self.fail(str(error))

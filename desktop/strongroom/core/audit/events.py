"""What Strongroom records in its audit log, and the one rule for a log that cannot be written.

The window, the wizard, the viewer and every command record through an `Auditor`, so an
event is written the same way whoever records it. Prompts and answers are recorded as
digests keyed with the epoch's digest key (a copy of the log cannot confirm a guessed
prompt; an auditor with the verification key can). With the `audit_log_text` setting on
(off by default), their text is recorded too, sealed so that only the holder of the
verification key can read it (`sealed_text`).

An answer is recorded twice: `answer_started` before its first token is shown (sealed and
fsynced: a crash or a kill leaves it, and the verifier reports an answer that started and
never finished), and `answer_finished` when it ends, however it ends.

The rule: when an entry cannot be written, the action it would record does not happen.
`require` (before an action) and every event method raise `AuditUnavailable` with a message
written for the user; after a failed write (or a log found altered) the auditor stays
broken, so everything that needs the log is refused with that same message until the app
is restarted. A failed `require` (say, a full disk) refuses only the action at hand.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom import __version__
from strongroom.core.atomic import write_atomic
from strongroom.core.audit import format as fmt
from strongroom.core.audit import sealed_text
from strongroom.core.audit.writer import AuditLog, AuditUnavailable

if TYPE_CHECKING:
    from strongroom.core.audit.kept import LocalEvidence
    from strongroom.core.inference.identity import LoadedModel, ModelIdentity

__all__ = ["Auditor", "AuditUnavailable", "sha256_text"]


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


RECORDED_TEXT_LIMIT = 256 * 1024  # characters of prompt or answer text kept, when text is kept
FINISH_ROOM = 64 * 1024  # bytes kept free for the entry that finishes an answer


class Auditor:
    def __init__(self, log: AuditLog | None, problem: str | None = None, tampering: bool = False,
                 absent: bool = False):
        self.log = log
        self.problem = problem
        self.tampering = tampering  # the log was found altered: shown as tampering, in red
        self.absent = absent  # opened without creating, and there is no log yet

    @classmethod
    def open(cls, log: AuditLog, create: bool = True) -> "Auditor":
        """The auditor of ``log``, opened (and created when ``create`` and there is none)."""
        if not create and not log.exists():
            return cls(None, f"There is no audit log at {log.path} yet: Strongroom has not "
                             "recorded anything on this computer.", absent=True)
        try:
            return cls(log.open())
        except AuditUnavailable as error:
            return cls(None, str(error), error.tampering)

    @property
    def available(self) -> bool:
        return self.log is not None

    def require(self) -> None:
        """Raise AuditUnavailable unless entries can be written now (before an action)."""
        if self.log is None:
            raise AuditUnavailable(self.problem or "The audit log is not open.", self.tampering)
        self.log.ensure_writable()  # a check, not a failed write: the log stays usable

    def _append(self, event: str, details: dict[str, Any], **top: Any) -> dict:
        if self.log is None:
            raise AuditUnavailable(self.problem or "The audit log is not open.", self.tampering)
        try:
            return self.log.append(event, details, **top)
        except AuditUnavailable as error:
            self.mark_broken(str(error), error.tampering)
            raise

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    def mark_broken(self, problem: str, tampering: bool = False) -> None:
        """An entry could not be written: refuse everything that needs the log from now on."""
        self.close()
        self.log = None
        self.problem = problem
        self.tampering = self.tampering or tampering

    def evidence_for(self, path: Path) -> tuple["LocalEvidence | None", str | None]:
        """What this computer keeps to check the log at ``path`` (its current key and head),
        and where it keeps it; (None, None) for any other log."""
        if self.log is None or Path(path).resolve() != self.log.path.resolve():
            return None, None
        return self.log.local_evidence(), self.log.key_storage

    def room_for_answer(self, recorded_chars: int = 0) -> bool:
        """Whether the entry that finishes an answer (with ``recorded_chars`` of text in it,
        when text is recorded) still fits on the log's disk, with room to spare."""
        return self.log is not None and self.log.room_left() >= FINISH_ROOM + 6 * recorded_chars

    def export_checkpoint(self, path: Path) -> dict:
        """Save the log's head to ``path`` (for the auditor to keep off this machine); the
        checkpoint is recorded in the log too. Raises AuditUnavailable or OSError."""
        self.require()
        try:
            record = self.log.checkpoint()
        except AuditUnavailable as error:
            self.mark_broken(str(error))
            raise
        write_atomic(path, (json.dumps(record, indent=2) + "\n").encode("utf-8"), 0o644)
        return record

    # -- the drive work, recorded the same way by the wizard and the commands -----------------

    def drive_verified(self, drive_root: Path, report) -> None:
        self.model_verify(str(drive_root), report.ok, report.counts(),
                          report.problems + [r.line() for r in report.failures()])

    def import_finished(self, drive_root: Path, result) -> None:
        record = result.version.provenance
        self.model_import(result.version.name, str(drive_root),
                          "already in the store" if result.already_present else "imported",
                          version=result.version.version, model_id=record.get("model_id"),
                          manifest_sha256=(record.get("manifest") or {}).get("sha256"),
                          provenance_sha256=result.version.provenance_sha256,
                          files=len(result.version.files), new_bytes=result.new_bytes)

    def import_refused(self, drive_root: Path, model_name: str, reason: str) -> None:
        self.model_import(model_name, str(drive_root), "refused", reason=reason[:2000])

    # -- events ------------------------------------------------------------------------------

    def app_start(self, interface: str) -> None:
        self._append("app_start", {"version": __version__, "interface": interface, "pid": os.getpid(),
                                   "key_storage": self.log.secrets.kind if self.log else None})

    def app_stop(self, interface: str) -> None:
        self._append("app_stop", {"interface": interface, "pid": os.getpid()})

    def model_load(self, loaded: "LoadedModel") -> None:
        identity = loaded.identity
        self._append("model_load", {**loaded.audit_fields(), "device": loaded.device_label,
                                    "context_length": loaded.n_ctx,
                                    "gpu_fallback": loaded.fallback_reason},
                     model_id=identity.model_id)

    def model_load_refused(self, identity: "ModelIdentity", reason: str) -> None:
        self._append("model_load", {**identity.audit_fields(), "outcome": "refused",
                                    "reason": reason[:2000]}, model_id=identity.model_id)

    def answer_started(self, prompt: str, loaded: "LoadedModel", sampling: dict,
                       conversation_id: int | None, include_text: bool = False,
                       sources: dict | None = None) -> dict:
        """Record that an answer to ``prompt`` is starting; return the entry (the finished
        entry refers to it). Written before the answer's first token is shown. ``sources``:
        the library searched and the passages given to the model (document SHA-256s and
        passage ids, never their text)."""
        details = {**loaded.audit_fields(), "sampling": sampling, "conversation": conversation_id}
        if sources is not None:
            details["sources"] = sources
        if include_text:
            details["prompt_sealed"] = self._sealed(prompt)
        return self._append(fmt.STARTED, details, model_id=loaded.identity.model_id,
                            digests={"prompt_hash": prompt, "details.prompt_digest": prompt})

    def answer_finished(self, started: dict, prompt: str, answer_text: str, stats: dict,
                        loaded: "LoadedModel", outcome: str, reason: str | None = None,
                        include_text: bool = False, sources: dict | None = None) -> dict:
        """Record how the answer ``started`` ended: "answered", "stopped" (by the user),
        "cut off" (the disk was nearly full), "interrupted" or "failed" (``reason`` says why).
        ``sources``: the passages the model was finally given (fewer than the started
        entry lists when they did not all fit its context)."""
        details = {
            "outcome": outcome,
            "prompt_tokens": stats.get("prompt_tokens"),
            "completion_tokens": stats.get("completion_tokens"),
            "ttft_ms": _ms(stats.get("time_to_first_token_s")),
            "finish_reason": stats.get("finish_reason"),
            "dropped_messages": stats.get("dropped_messages", 0),
            "started_hash": started[fmt.HASH_FIELD],
        }
        if reason:
            details["reason"] = reason[:2000]
        if sources is not None:
            details["sources"] = sources
        if loaded.server is not None:  # which server answered, as this answer's connection saw it
            details["server"] = {**loaded.server, "model_reported": stats.get("server_model"),
                                 "certificate_sha256": stats.get("server_certificate")
                                 or loaded.server.get("certificate_sha256")}
        if include_text:
            details["response_sealed"] = self._sealed(answer_text)
        return self._append(fmt.FINISHED, details, started_seq=started["seq"],
                            response_tokens=stats.get("completion_tokens"),
                            latency_ms=_ms(stats.get("total_s")), model_id=loaded.identity.model_id,
                            digests={"prompt_hash": prompt, "details.response_digest": answer_text})

    def _sealed(self, text: str) -> str:
        """``text`` sealed for the auditor (see `sealed_text`): never stored readable."""
        public = self.log.text_key if self.log is not None else None
        return sealed_text.seal(public, _recorded(text)) if public else NOT_SEALABLE

    def settings_change(self, changed: dict[str, tuple[Any, Any]]) -> None:
        described, digests = {}, {}
        for name, (old, new) in changed.items():
            if isinstance(new, str):
                # Free text (the system prompt) may hold anything: record that it changed, and
                # a keyed digest an auditor with the key can match, never the text.
                described[name] = {"changed": True}
                digests[f"details.{name}_digest"] = new
            else:
                described[name] = {"from": old, "to": new}
        self._append("settings_change", {"changed": described}, digests=digests)

    def chat_export(self, path: Path, kind: str, conversation_id: int, data: bytes) -> None:
        self._append("chat_export", {"file": str(path), "format": kind, "conversation": conversation_id,
                                     "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})

    def egress_blocked(self, event: str, destination: str) -> None:
        self._append("egress_blocked", {"call": event, "destination": destination})

    def model_import(self, model_name: str, drive: str, outcome: str, **details: Any) -> None:
        self._append("model_import", {"model": model_name, "drive": drive, "outcome": outcome, **details})

    def trust_change(self, action: str, name: str | None = None, fingerprint: str | None = None,
                     **details: Any) -> None:
        """An officer key trusted or no longer trusted, or the signature policy changed."""
        self._append("trust_change", {"action": action, "key_name": name,
                                      "fingerprint": fingerprint, **details})

    def pending_key(self) -> str | None:
        """The audit verification key, while no person has been shown it yet."""
        return self.log.unshown_key() if self.log is not None else None

    def key_shown(self, where: str) -> None:
        """The verification key was shown to a person (on a "terminal", in the "window", or
        by a "command" asked for it): it is no longer kept, and the log says so."""
        if self.log is None:
            raise AuditUnavailable(self.problem or "The audit log is not open.", self.tampering)
        self.log.mark_key_shown(where)
        self._append("audit_key", {"action": "verification key shown", "where": where,
                                   "key_fingerprint": self.log.fingerprint})

    def start_new_log(self, reason: str) -> Path:
        """Replace the log with a new one (see `AuditLog.start_new_log`)."""
        self.require()
        try:
            return self.log.start_new_log(reason)
        except AuditUnavailable as error:
            self.mark_broken(str(error), error.tampering)
            raise

    def conversations_key(self, action: str, **details: Any) -> None:
        """The conversations' key made, recovered or replaced, or the database encrypted."""
        self._append("conversations_key", {"action": action, **details})

    def conversations_lock(self, action: str, **details: Any) -> None:
        """The window locked (closing the conversations), unlocked, or an unlock refused."""
        self._append("conversations_lock", {"action": action, **details})

    def compliance_report(self, path: Path, kind: str, summary: dict[str, int],
                          red: list[str]) -> None:
        """A compliance report was saved for a sign-off (what it found, not its text)."""
        self._append("compliance_report", {"path": str(path), "kind": kind, "summary": summary,
                                           "red": red})

    def model_lifecycle(self, action: str, name: str, version: str, **details: Any) -> None:
        """A model version changed state (staged, smoke tested, promoted, rolled back,
        retired, removed)."""
        self._append("model_lifecycle", {"action": action, "model": name, "version": version,
                                         **details})

    def document_library(self, action: str, library: str, **details: Any) -> None:
        """A library created or removed, or a document added, read again, refused or
        removed. Documents are named by SHA-256, size and pages: never their text."""
        self._append("document_library", {"action": action, "library": library, **details})

    def inference_server(self, action: str, name: str, **details: Any) -> None:
        """An inference server added to or removed from the workstation's list, or tested
        (`server test`: its certificate, models, and the short test answer's figures)."""
        self._append("inference_server", {"action": action, "name": name, **details})

    def server_attempt_failed(self, name: str, url: str, reason: str, during: str) -> None:
        """A configured inference server could not be used (its certificate or pin did not
        match, the API key was refused, it could not be reached…), ``during`` what."""
        self._append("inference_server", {"action": "attempt failed", "name": name, "url": url,
                                          "during": during, "reason": reason[:2000]})

    def model_serve(self, action: str, **details: Any) -> None:
        """`strongroom serve` started or stopped serving a verified model."""
        self._append("model_serve", {"action": action, **details})

    def library_search(self, library: str, question: str, documents: list[str]) -> None:
        """A question searched ``library`` (its ``documents`` by SHA-256) and nothing was
        found, so no answer was asked for. (Searches that found passages are recorded in
        the answer's own entries.)"""
        self._append("library_search", {"library": library, "documents": documents, "found": 0},
                     digests={"details.question_digest": question})

    def model_verify(self, target: str, ok: bool, counts: dict[str, int], problems: list[str]) -> None:
        self._append("model_verify", {"target": target, "ok": ok, "counts": counts,
                                      "problems": problems[:10]})

    def audit_verify(self, log_path: Path, report) -> None:
        """Record a validation (an `AuditReport`) of the log at ``log_path``."""
        first = report.first_break
        self._append("audit_verify", {
            "log": str(log_path), "ok": report.ok, "entries": report.entries,
            "keyed": report.keyed, "checkpoint": report.checkpoint_checked,
            "key_problem": report.key_problem is not None,
            "first_break": None if first is None else f"line {first.line}: {first.kind.value}"})


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _recorded(text: str) -> str:
    if len(text) <= RECORDED_TEXT_LIMIT:
        return text
    return text[:RECORDED_TEXT_LIMIT] + f" …(cut at {RECORDED_TEXT_LIMIT:,} characters)"


NOT_SEALABLE = ("(not recorded: this audit log was created before recorded text was sealed for "
                "the auditor; start a new log to record text)")

"""The result of validating an audit log, and its renderings: a summary for the terminal,
JSON for scripts, and an HTML report an auditor can file (`report.html.j2`)."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from strongroom import __version__
from strongroom.core.audit.keys import show_fingerprint

SUMMARY_BREAKS = 20  # breaks listed in the terminal summary; the rest are counted


class BreakKind(enum.Enum):
    EDITED = "entry edited"
    LINK = "link broken (entry inserted, deleted or reordered)"
    MAC = "MAC wrong"
    EPOCH = "epoch rule broken"
    UNREADABLE = "not a readable entry"
    TRUNCATED = "entries cut from the end"
    REWRITTEN = "rewritten"


@dataclass
class Break:
    line: int  # 1-based line number in the file
    seq: int | None
    kind: BreakKind
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "seq": self.seq, "kind": self.kind.value, "message": self.message}


@dataclass
class AuditReport:
    path: Path
    entries: int = 0
    breaks: list[Break] = field(default_factory=list)
    more_breaks: int = 0
    crashes: list[str] = field(default_factory=list)  # torn tails and recovered tails: not tampering
    notes: list[str] = field(default_factory=list)
    checked_with: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    keyed: bool = False
    checkpoint_checked: bool = False
    reference_format: bool = False  # entries in the reference logger's form (no MAC, no seq)
    key_problem: str | None = None  # the key given is not this log's: nothing was checked with it
    unfinished: list = field(default_factory=list)  # (line, seq) of answers started, never finished
    orphans: list = field(default_factory=list)  # (line, started seq) finished without a start here
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    key_fingerprint: str | None = None  # of the audit verification key the MACs were checked with
    local_epoch: int | None = None  # without that key: the epoch this computer's own key checked

    @property
    def ok(self) -> bool:
        return not self.breaks and self.key_problem is None

    @property
    def first_break(self) -> Break | None:
        return self.breaks[0] if self.breaks else None

    @property
    def scope(self) -> str:
        """What was checked, in a few words: "chain only", "chain + MACs with key <fingerprint>",
        each followed by "+ checkpoint" when one was compared."""
        parts = ["chain"]
        if self.key_fingerprint:
            parts.append(f"MACs with key {show_fingerprint(self.key_fingerprint)}")
        elif self.local_epoch is not None:
            parts.append(f"epoch {self.local_epoch}'s MACs with this computer's key")
        if self.checkpoint_checked:
            parts.append("checkpoint")
        return "chain only" if len(parts) == 1 else " + ".join(parts)

    @property
    def key_used(self) -> str:
        """Which key the MACs were checked with, in words."""
        if self.key_fingerprint:
            return f"the audit verification key with fingerprint {show_fingerprint(self.key_fingerprint)}"
        if self.local_epoch is not None:
            return (f"no audit verification key; the key kept on this computer checked epoch "
                    f"{self.local_epoch} only")
        return "no key was used"

    @property
    def period(self) -> str:
        """When the entries were written: from the first entry's time to the last one's."""
        if not self.first_timestamp:
            return ""
        return f"written from {self.first_timestamp} to {self.last_timestamp or '?'}"

    @property
    def events_in_words(self) -> list[tuple[str, str, int]]:
        """(words, recorded name, entries) for each event the log holds, most first."""
        from strongroom.core.audit.format import EVENTS

        return [(EVENTS.get(name, name), name, count) for name, count
                in sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))]

    def summary(self) -> str:
        lines = [f"Audit log {self.path}: {self.entries:,} entries"
                 + (f", {self.period}" if self.period else "")]
        lines += [f"  checked: {c}" for c in self.checked_with]
        if self.key_problem:
            lines.append(f"RESULT: NOT CHECKED WITH THE KEY GIVEN. {self.key_problem}")
        if self.ok:
            lines.append("RESULT: the log holds for everything checked.")
        elif self.breaks:
            first = self.breaks[0]
            lines.append(f"RESULT: BROKEN at line {first.line}"
                         + (f" (seq {first.seq})" if first.seq is not None else "")
                         + f": {first.kind.value}: {first.message}")
            lines += [f"  line {b.line}: {b.kind.value}: {b.message}"
                      for b in self.breaks[1:SUMMARY_BREAKS]]
            hidden = len(self.breaks) - SUMMARY_BREAKS + self.more_breaks
            if hidden > 0:
                lines.append(f"  … and {hidden} more")
        lines += [f"crash (not tampering): {c}" for c in self.crashes]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "format": "strongroom.audit-verification", "format_version": 1,
            "log": str(self.path), "ok": self.ok, "entries": self.entries,
            "first_timestamp": self.first_timestamp, "last_timestamp": self.last_timestamp,
            "counts": self.counts, "keyed": self.keyed, "checkpoint_checked": self.checkpoint_checked,
            "checked_with": self.checked_with,
            "breaks": [b.as_dict() for b in self.breaks], "more_breaks": self.more_breaks,
            "crashes": self.crashes, "notes": self.notes, "created_at": self.created_at,
            "scope": self.scope, "key_fingerprint": self.key_fingerprint, "key_used": self.key_used,
            "key_problem": self.key_problem,
            "unfinished_answers": [{"line": line, "seq": seq} for line, seq in self.unfinished],
        }

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def as_html(self) -> str:
        return _html_template().render(report=self, version=__version__)


def _html_template():
    import jinja2

    source = resources.files("strongroom.core.audit").joinpath("report.html.j2").read_text("utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(source)

"""What the audit viewer says of an entry and of a validation: the text recorded sealed in
an entry, opened with the verification key; and the banner after a validation, with the
colour of what it found."""

from __future__ import annotations

from strongroom.core.audit.report import AuditReport
from strongroom.core.audit.sealed_text import unseal


def recorded_text(entry: dict, root: bytes | None) -> list[tuple[str, str]]:
    """The prompt and answer text sealed in ``entry``, opened with the verification key
    ``root`` (each field says so when the key does not open it)."""
    details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
    opened = []
    for field, name in (("prompt_sealed", "Prompt"), ("response_sealed", "Answer")):
        sealed = details.get(field)
        if root is None or not isinstance(sealed, str) or not sealed.startswith("sealed-"):
            continue
        try:
            opened.append((name, unseal(root, sealed)))
        except ValueError as error:
            opened.append((name, f"({error})"))
    return opened


def banner_for(report: AuditReport) -> tuple[str, str]:
    """The banner after a validation, and its state. It starts by saying what was checked
    ("chain only", "chain + MACs with key <fingerprint>", "+ checkpoint"). "ok" (green) only
    when the MACs were checked with the verification key; "partial" (amber) when the log holds
    for what could be checked without it; "bad" (red) when anything is broken, or the key
    was not this log's."""
    checked = f"Checked: {report.scope}."
    if report.breaks:
        first = report.first_break
        text = (f"BROKEN at line {first.line}: {first.kind.value}: {first.message} "
                f"({len(report.breaks) + report.more_breaks} problem(s) in all). {checked}")
        state = "bad"
    elif report.keyed:
        text = f"{checked} The log holds: {report.entries:,} entries, each as it was written."
        state = "ok"
    else:
        text = (f"{checked} The chain holds for what could be checked without the audit verification "
                f"key: {report.entries:,} entries.")
        if report.notes and not report.key_problem:
            text += " " + report.notes[0]
        state = "partial"
    if report.key_problem:
        text, state = f"{report.key_problem} {text}", "bad"
    if report.checkpoint_checked and not report.breaks:
        text += " The checkpoint matches."
    if report.crashes:
        text += f" Crash damage, not tampering: {len(report.crashes)}."
    if report.unfinished:
        text += (f" {len(report.unfinished)} answer(s) started and never finished (shown in amber; "
                 "the app stopped while answering — not tampering).")
    return text, state

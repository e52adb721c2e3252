"""Writers killed with SIGKILL 1,000 times while recording answers: no false tamper report
(when the log is reopened or verified), nothing that was acknowledged is lost, and every
answer that started is accounted for: finished, or reported as started and never finished."""

import json
import subprocess
import sys

from strongroom.core.audit import format as fmt
from strongroom.core.audit.verifier import verify_log
from strongroom.core.audit.writer import AuditLog
from tests.helpers import REPO
from tests.helpers.audit_logs import entries_of, file_secrets, write_log

KILLS = 1000


def test_a_thousand_kills(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=1, entries_per_epoch=40)
    log.close()
    result = subprocess.run([sys.executable, "-m", "tests.helpers.audit_crash_driver", str(path),
                             str(KILLS), "20261129"], cwd=REPO, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout)
    assert outcome["refused"] == []  # no child ever found the log refused after a kill

    AuditLog(path, file_secrets(tmp_path / "secrets"), entries_per_epoch=40).open().close()
    report = verify_log(path, key)
    assert report.ok, report.summary()
    assert report.breaks == []  # zero false tamper reports

    entries = entries_of(path)
    started = {e["seq"] for e in entries if e["event"] == fmt.STARTED}
    finished = {e["started_seq"] for e in entries if e["event"] == fmt.FINISHED and "started_seq" in e}
    assert {seq for _, seq in outcome["started"]} <= started  # acknowledged starts are there
    assert {seq for _, seq in outcome["finished"]} <= finished  # and acknowledged ends
    assert {seq for _, seq in report.unfinished} == started - finished  # every start accounted for
    assert report.counts.get(fmt.EPOCH_CLOSED, 0) > 10  # epochs closed among the kills
    # The kills landed among writes: each round that waited for a first write had one.
    rounds_with_writes = {number for number, _ in outcome["started"]}
    assert outcome["waited_for_a_write"] > KILLS // 2
    assert len(rounds_with_writes) >= outcome["waited_for_a_write"]
    print(f"{len(entries)} entries, {len(started)} answers started, "
          f"{len(started - finished)} never finished, {report.counts.get('recovered_tail', 0)} torn tails")

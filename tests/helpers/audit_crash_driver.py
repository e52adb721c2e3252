"""Kills audit-log writers with SIGKILL, many times, at random moments.

    python -m tests.helpers.audit_crash_driver LOG KILLS SEED

Each round forks a child that opens the log as the app does (checking its head, recovering a
torn tail, finishing an interrupted epoch change) and records answers as the app does: an
``inference_started`` entry, then the ``inference`` entry that finishes it, reporting each
write that returned through a pipe. The parent SIGKILLs the child after a random delay (the
experiment's input: where the kill lands, not synchronisation). A child that finds the log
refused (a false tamper report) says so on the pipe before it is killed.

Prints a JSON summary: every started and finished (round, seq) whose write returned, and
every refusal a child met.
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import sys
import time
from pathlib import Path

from strongroom.core.audit import format as fmt
from strongroom.core.audit.writer import AuditLog, AuditUnavailable
from tests.helpers.audit_logs import file_secrets

STARTED, FINISHED, REFUSED = 1, 2, 3


def child(path: Path, round_number: int, report_fd: int) -> None:
    try:
        log = AuditLog(path, file_secrets(path.parent / "secrets"), user="crash",
                       entries_per_epoch=40).open()
    except AuditUnavailable:
        os.write(report_fd, struct.pack("<BII", REFUSED, round_number, 0))
        raise
    while True:
        started = log.append(fmt.STARTED, {"round": round_number}, model_id="demo",
                             digests={"prompt_hash": f"prompt {round_number}"})
        os.write(report_fd, struct.pack("<BII", STARTED, round_number, started["seq"]))
        log.append(fmt.FINISHED, {"outcome": "answered"}, started_seq=started["seq"],
                   model_id="demo", digests={"prompt_hash": f"prompt {round_number}"})
        os.write(report_fd, struct.pack("<BII", FINISHED, round_number, started["seq"]))


def main(path: Path, kills: int, seed: int) -> dict:
    chance = random.Random(seed)
    reports: dict[int, list] = {STARTED: [], FINISHED: [], REFUSED: []}
    for round_number in range(kills):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                child(path, round_number, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        time.sleep(chance.uniform(0, 0.015))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
        os.close(read_end)
        for offset in range(0, len(data) - 8, 9):
            kind, number, seq = struct.unpack_from("<BII", data, offset)
            reports[kind].append([number, seq])
    return {"started": reports[STARTED], "finished": reports[FINISHED], "refused": reports[REFUSED]}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))

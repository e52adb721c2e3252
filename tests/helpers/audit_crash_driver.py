"""Kills audit-log writers with SIGKILL, many times, at random moments.

    python -m tests.helpers.audit_crash_driver LOG KILLS SEED

Each round forks a child that opens the log (recovering a torn tail, as the app does) and
appends entries as fast as it can, reporting each append that returned through a pipe;
the parent SIGKILLs it after a random delay. The delay is the experiment's input (where
the kill lands), not synchronisation. Prints a JSON summary: every (round, n) whose
append returned.
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

from strongroom.core.audit.writer import AuditLog

from tests.helpers.audit_logs import file_secrets


def child(path: Path, round_number: int, report_fd: int) -> None:
    log = AuditLog(path, file_secrets(path.parent / "secrets"), user="crash",
                   entries_per_epoch=40).open()
    n = 0
    while True:
        log.append("app_start", {"round": round_number, "n": n})
        os.write(report_fd, struct.pack("<II", round_number, n))  # this append returned
        n += 1


def main(path: Path, kills: int, seed: int) -> dict:
    chance = random.Random(seed)
    returned = []
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
        time.sleep(chance.uniform(0, 0.004))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
        os.close(read_end)
        returned += [list(struct.unpack_from("<II", data, i)) for i in range(0, len(data) - 7, 8)]
    return {"returned": returned}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))

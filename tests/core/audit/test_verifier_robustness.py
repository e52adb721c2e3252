"""The verifier never crashes: any bytes in, a report out, in bounded memory and in time
linear in the file's size; `strongroom audit verify --json` always prints JSON, and its exit
status is 0 (holds), 1 (broken) or 2 (a usage error)."""

import json
import random
import subprocess
import sys
import time

import pytest

from strongroom.core.audit import format as fmt
from strongroom.core.audit.report import BreakKind
from strongroom.core.audit.verifier import verify_log
from tests.helpers import REPO
from tests.helpers.audit_logs import (
    append_inference,
    entries_of,
    read_lines,
    write_lines,
    write_log,
)


@pytest.fixture
def small_log(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=30, days=3)
    log.close()
    return path, key


def replace_in_line(path, index, old: bytes, new: bytes) -> None:
    lines = read_lines(path)
    assert old in lines[index]
    lines[index] = lines[index].replace(old, new)
    write_lines(path, lines)


@pytest.mark.parametrize("value", [b'"x"', b"null", b"1.5", b"-3", b"99999999999", b"true",
                                   b"1" * 5000, b"[]", b"{}"])
def test_any_value_for_the_epoch(small_log, value):
    path, key = small_log
    replace_in_line(path, 12, b'"verification_epoch": ', b'"verification_epoch": ' + value + b", \"was\": ")
    started = time.monotonic()
    for report in (verify_log(path), verify_log(path, key)):
        assert not report.ok and report.first_break.line == 13
        json.loads(report.as_json())
    assert time.monotonic() - started < 5  # no key is derived for a made-up epoch


@pytest.mark.parametrize("field,value", [
    (b'"seq": ', b'"nine", "x": '), (b'"prev_hash": ', b'5, "x": '), (b'"details": ', b'[1, 2], "x": '),
    (b'"event": ', b'{"a": 1}, "x": '), (b'"timestamp": ', b'12, "x": '), (b'"user_id": ', b'null, "x": '),
])
def test_any_type_in_any_field(small_log, field, value):
    path, key = small_log
    replace_in_line(path, 7, field, field + value)
    for report in (verify_log(path), verify_log(path, key)):
        assert not report.ok and report.first_break.line == 8
        json.loads(report.as_json())


@pytest.mark.parametrize("line", [b"[1, 2, 3]\n", b'"a string"\n', b"42\n", b"\x00\x00\x00\n",
                                  b"\xff\xfe invalid utf-8 \xc3\x28\n", b'{"entry_hash": 5}\n',
                                  b"[" * 100_000 + b"\n", b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"\n",
                                  b"\n", b"   \n", b'{"entry_hash": "' + b"0" * 64 + b'", "n": 1e999999}\n'])
def test_any_line(small_log, line):
    path, key = small_log
    lines = read_lines(path)
    lines.insert(9, line)
    write_lines(path, lines)
    for report in (verify_log(path), verify_log(path, key)):
        assert not report.ok and report.first_break.line == 10
        json.loads(report.as_json())


def peak_memory_of(script: str, *args) -> tuple[dict, float]:
    """Run ``script`` in a child; return what it printed (JSON) and its peak memory in MB."""
    # VmHWM, not ru_maxrss: the latter keeps the peak of the process image before exec.
    code = script + ("\nimport json as _j\npeak = next(int(l.split()[1]) for l in open('/proc/self/status') "
                     "if l.startswith('VmHWM'))\nprint(_j.dumps({'peak_mb': peak / 1024, **OUT}))")
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    return out, out["peak_mb"]


VERIFY_IN_CHILD = """
import sys, time
from strongroom.core.audit.verifier import verify_log
started = time.monotonic()
report = verify_log(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None, workers=1)
OUT = {"ok": report.ok, "first": report.first_break.as_dict() if report.first_break else None,
       "entries": report.entries, "seconds": time.monotonic() - started, "crashes": report.crashes}
"""


def test_a_100_mb_line_is_reported_in_bounded_memory(small_log):
    path, key = small_log
    lines = read_lines(path)
    with open(path, "wb") as out:
        out.writelines(lines[:15])
        for _ in range(100):
            out.write(b"A" * (1 << 20))
        out.write(b"\n")
        out.writelines(lines[15:])
    out, peak = peak_memory_of(VERIFY_IN_CHILD, str(path), key)
    assert not out["ok"] and out["first"]["line"] == 16 and out["first"]["kind"] == BreakKind.UNREADABLE.value
    assert "104,857,601 bytes long" in out["first"]["message"]
    assert peak < 250, f"peak memory {peak:.0f} MB"


def test_a_10_gb_sparse_file_in_bounded_memory_and_linear_time(tmp_path):
    path = tmp_path / "sparse.log"
    with open(path, "wb") as out:
        out.truncate(10 * 1024**3)
    out, peak = peak_memory_of(VERIFY_IN_CHILD, str(path))
    assert not out["ok"] and out["first"]["kind"] == BreakKind.UNREADABLE.value
    assert peak < 250, f"peak memory {peak:.0f} MB"
    assert out["seconds"] < 10  # its holes are skipped, not read


def test_the_command_prints_json_for_anything(tmp_path):
    garbage = tmp_path / "garbage.log"
    garbage.write_bytes(bytes(range(256)) * 40 + b'\n{"verification_epoch": "x"}\n')
    home = tmp_path / "home"
    run = lambda *a: subprocess.run([sys.executable, "-m", "strongroom", "audit", "verify", *a],  # noqa: E731
                                    cwd=REPO, capture_output=True, text=True, timeout=120,
                                    env={**__import__("os").environ, "STRONGROOM_HOME": str(home)})
    result = run(str(garbage), "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["ok"] is False
    missing = run(str(tmp_path / "nothing.log"), "--json")
    assert missing.returncode == 1 and json.loads(missing.stdout)["ok"] is False
    usage = run(str(garbage), "--json", "--key", "!! not a key !!")
    assert usage.returncode == 2 and "not an audit verification key" in usage.stderr
    assert json.loads(usage.stdout)["error"].startswith("This is not an audit verification key")


# -- the fuzz test -------------------------------------------------------------------------------

def mutate(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    lines = [line + b"\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    kind = rng.randrange(10)
    if kind == 0:  # flip a byte
        at = rng.randrange(len(data))
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
    if kind == 1:  # delete a run of bytes
        at = rng.randrange(len(data))
        return data[:at] + data[at + rng.randrange(1, 200):]
    if kind == 2:  # insert random bytes
        at = rng.randrange(len(data))
        return data[:at] + rng.randbytes(rng.randrange(1, 40)) + data[at:]
    if kind == 3:  # delete a line
        del lines[rng.randrange(len(lines))]
    elif kind == 4:  # duplicate a line
        at = rng.randrange(len(lines))
        lines.insert(at, lines[at])
    elif kind == 5:  # swap two lines
        a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
    elif kind == 6:  # cut the file anywhere
        return data[:rng.randrange(len(data))]
    elif kind == 7:  # change a digit
        digits = [i for i, c in enumerate(data) if 48 <= c <= 57]
        at = rng.choice(digits)
        return data[:at] + bytes([48 + (data[at] - 47) % 10]) + data[at + 1:]
    elif kind == 8:  # a value of another type
        at = rng.randrange(len(lines))
        lines[at] = lines[at].replace(b": ", rng.choice([b': "x", "y": ', b": null, \"y\": ", b": [], \"y\": "]), 1)
    else:  # bytes that are not text
        at = rng.randrange(len(data))
        return data[:at] + rng.choice([b"\x00", b"\xff\xfe", b"\xc3", b"\r", b"\n"]) + data[at:]
    return b"".join(lines)


def same_entries(original: list[dict], mutated: bytes) -> bool:
    """Whether the mutated file's complete lines are the original entries, unchanged."""
    complete = mutated[:mutated.rfind(b"\n") + 1]
    try:  # lines end at "\n" only (JSON allows "\r" as white space inside one)
        return [json.loads(line) for line in complete.split(b"\n")[:-1]] == original
    except ValueError:
        return False


def test_ten_thousand_mutations(small_log, tmp_path):
    path, key = small_log
    data = path.read_bytes()
    original = entries_of(path)
    checkpoint = {"format": "strongroom.audit-checkpoint", "seq": original[-1]["seq"],
                  "entry_hash": original[-1]["entry_hash"]}
    rng = random.Random(20261129)
    target = tmp_path / "mutated.log"
    caught = 0
    for round_number in range(10_000):
        mutated = mutate(data, rng)
        target.write_bytes(mutated)
        for with_key in (False, True):
            report = verify_log(target, key if with_key else None, checkpoint if with_key else None,
                                workers=1)
            json.loads(report.as_json())  # always a report, always JSON
            if with_key and report.ok:
                assert same_entries(original, mutated), f"round {round_number}: an undetected change"
                assert mutated.endswith(b"\n") or report.crashes
            caught += with_key and not report.ok
    assert caught > 8_000  # nearly every mutation changes something the key protects


def test_answers_started_and_never_finished_are_reported_as_such(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=3)
    started = log.append(fmt.STARTED, {}, model_id="demo", digests={"prompt_hash": "hello"})
    log.append(fmt.FINISHED, {"outcome": "answered"}, started_seq=started["seq"], model_id="demo",
               digests={"prompt_hash": "hello"})
    unfinished = log.append(fmt.STARTED, {}, model_id="demo", digests={"prompt_hash": "killed"})
    append_inference(log, 9)
    log.close()
    for report in (verify_log(path), verify_log(path, key)):
        assert report.ok and report.unfinished == [(unfinished["seq"] + 1, unfinished["seq"])]
        assert "1 answer(s) started and never finished" in report.summary()
        assert "not tampering" in report.summary()

"""Reading files as an ordinary user would, even when the tests run as root: root's override
of file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) is dropped for one thread."""

from __future__ import annotations

import ctypes
import threading
from typing import Callable

CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_file_permission_override() -> None:
    """Clear CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the calling thread's effective
    capabilities (Linux capabilities are per thread), so that root, like anyone else, gets
    EACCES from a file or folder without read permission. A no-op for other users."""
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    data[0].effective &= ~((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH))
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def as_reader(unprivileged: bool, work: Callable[[], object]):
    """Run ``work`` here, or (unprivileged) on a thread without the override; threads it
    starts inherit that. The thread is joined before this returns."""
    if not unprivileged:
        return work()
    outcome: dict[str, object] = {}

    def body() -> None:
        try:
            drop_file_permission_override()
            outcome["value"] = work()
        except BaseException as error:  # handed back to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=body, name="unprivileged-reader")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")

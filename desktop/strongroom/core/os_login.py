"""Checking this computer user's own login password with the operating system (PAM), the
way a screen locker does: Strongroom never sees or keeps the password's hash.

PAM's library is loaded with ctypes when first needed; where there is none (or it does
not load), `available()` is False and the window offers only the recovery key. A wrong
password usually takes a couple of seconds to be refused (PAM's own delay against
guessing), so callers run `password_accepted` off the GUI thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
from functools import lru_cache

SERVICE = "login"  # the PAM configuration every Linux system has for console logins

_PAM_SUCCESS = 0
_PAM_PROMPT_ECHO_OFF = 1
_PAM_PROMPT_ECHO_ON = 2


class _Message(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class _Response(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


_Conversation = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int,
                                 ctypes.POINTER(ctypes.POINTER(_Message)),
                                 ctypes.POINTER(ctypes.POINTER(_Response)), ctypes.c_void_p)


class _Conv(ctypes.Structure):
    _fields_ = [("conv", _Conversation), ("appdata_ptr", ctypes.c_void_p)]


@lru_cache(maxsize=1)
def _libraries():
    """(libpam, libc), or None where PAM is not there."""
    name = ctypes.util.find_library("pam") or "libpam.so.0"
    try:
        pam = ctypes.CDLL(name)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    pam.pam_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(_Conv),
                              ctypes.POINTER(ctypes.c_void_p)]
    pam.pam_start.restype = ctypes.c_int
    if hasattr(pam, "pam_start_confdir"):  # Linux-PAM 1.4 and later
        pam.pam_start_confdir.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(_Conv),
                                          ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        pam.pam_start_confdir.restype = ctypes.c_int
    pam.pam_authenticate.argtypes = [ctypes.c_void_p, ctypes.c_int]
    pam.pam_authenticate.restype = ctypes.c_int
    pam.pam_end.argtypes = [ctypes.c_void_p, ctypes.c_int]
    pam.pam_end.restype = ctypes.c_int
    libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    libc.calloc.restype = ctypes.c_void_p
    return pam, libc


def available() -> bool:
    return _libraries() is not None


def user_name() -> str:
    """The login name of the user this process runs as (not what the environment claims)."""
    return pwd.getpwuid(os.getuid()).pw_name


def password_accepted(password: str, user: str | None = None,
                      config_dir: str | None = None) -> bool:
    """Whether the operating system accepts ``password`` as ``user``'s login password
    (this process's user by default). False, never an exception, when PAM is missing.

    ``config_dir`` reads the PAM service from that folder instead of the system's
    (tests give it one whose rules they wrote)."""
    libraries = _libraries()
    if libraries is None or not password:
        return False
    pam, libc = libraries
    secret = password.encode("utf-8")

    def answer(count, messages, responses, _data):
        # PAM frees the answers with free(): they must come from the C heap.
        block = libc.calloc(count, ctypes.sizeof(_Response))
        if not block:
            return 1  # PAM_BUF_ERR
        responses[0] = ctypes.cast(block, ctypes.POINTER(_Response))
        for index in range(count):
            if messages[index].contents.msg_style in (_PAM_PROMPT_ECHO_OFF, _PAM_PROMPT_ECHO_ON):
                copy = libc.calloc(len(secret) + 1, 1)
                if not copy:
                    return 1
                ctypes.memmove(copy, secret, len(secret))
                responses[0][index].resp = copy
        return _PAM_SUCCESS

    callback = _Conversation(answer)  # kept referenced until pam_end
    conversation = _Conv(callback, None)
    handle = ctypes.c_void_p()
    who = (user or user_name()).encode("utf-8")
    if config_dir is None:
        status = pam.pam_start(SERVICE.encode(), who, ctypes.byref(conversation),
                               ctypes.byref(handle))
    else:
        status = pam.pam_start_confdir(SERVICE.encode(), who, ctypes.byref(conversation),
                                       config_dir.encode(), ctypes.byref(handle))
    if status != _PAM_SUCCESS:
        return False
    try:
        status = pam.pam_authenticate(handle, 0)
    finally:
        pam.pam_end(handle, status)
    return status == _PAM_SUCCESS

"""Giving freed memory back to the system between residents.

glibc's malloc keeps pages freed in the middle of its heaps resident until something reuses
them; after a visit (screens rebuilt, a ticket rendered, a form's editors and the pinyin keyboard
torn down) about 9 MiB of the kiosk's RSS is such free pages. `malloc_trim(0)` hands them back in
well under a millisecond (measured by bench/bench_memory.py, issue 20). Elsewhere (not glibc) it
does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _find_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _find_trim()


def return_free_memory() -> bool:
    """Release free heap pages to the system; False where the C library has no malloc_trim."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True

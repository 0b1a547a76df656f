"""Freed column arrays stay in malloc's heap for the next block (glibc)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, ctypes.util, sys
import numpy as np
from sensor.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "keep":
    print(keep_freed_memory())
columns = np.ones(8 << 20, np.uint8)     # a block's columns: 8 MiB
del columns
print(libc.mallinfo2().fordblks >= 8 << 20)   # freed, and still in the heap
"""


WITHOUT_MALLOC_TUNING = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}


def glibc_has_mallinfo2() -> bool:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return hasattr(libc, "mallinfo2")


@pytest.mark.skipif(not glibc_has_mallinfo2(), reason="needs glibc >= 2.33 (mallinfo2)")
@pytest.mark.parametrize(("mode", "expected"), [("keep", "True\nTrue\n"), ("default", "False\n")])
def test_freed_arrays_stay_in_the_heap_only_when_asked(mode: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          timeout=60, env=WITHOUT_MALLOC_TUNING)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected

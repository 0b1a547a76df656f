"""Memory the sensor frees, kept for its next block instead of handed back to the kernel.

Every block of frames allocates its columns afresh (megabytes of numpy arrays), and glibc's
malloc serves allocations that large with a mapping of their own, unmapped when freed: the next
block then faults every page in again, which cost a sixth of the batch decoder's time. Raising
the mapping threshold to its maximum, and the heap's trim threshold with it, keeps the freed
arrays in the heap, where the next block's columns reuse their pages. The sensor's memory peaks
at the same size either way; it is only given back later.

Other C libraries have no ``mallopt``: there nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3      # <malloc.h>
MMAP_THRESHOLD_MAX = 32 << 20                    # glibc's ceiling on 64-bit machines
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Have malloc keep freed blocks up to 32 MiB for reuse; whether the C library let it."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))

"""Keep the memory of transfer buffers in the process between blocks, where the C library allows it.

The Azure SDKs allocate a fresh buffer of a MiB or more for every block they upload or download. By
default glibc maps each such buffer from the kernel and unmaps it on free (and trims freed heap
beyond 128 KiB), so every block pays for faulting in and zeroing its pages again; with four
transfers in flight that cost 10-20 % of the throughput on many 1 MiB blobs. Raising both
thresholds keeps at most TRIM_THRESHOLD_BYTES of free memory for reuse.
"""

from __future__ import annotations

import ctypes
import logging

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's largest: blocks of up to 32 MiB come from the heap
TRIM_THRESHOLD_BYTES = 16 * 1024 * 1024

log = logging.getLogger("ion.sidecar")


def keep_transfer_buffers() -> bool:
    """Set the thresholds; False (and nothing changed) where the C library has no mallopt (musl, macOS)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success.
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    if not done:
        log.warning("could not set the allocator's thresholds; transfers work, a little slower")
    return done

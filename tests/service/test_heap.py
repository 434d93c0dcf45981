"""The feed cycle's memory goes back to the OS (glibc's malloc keeps it otherwise)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bot.service import heap

pytestmark = pytest.mark.skipif(
    heap._libc() is None, reason="malloc is not glibc's here: release() is a no-op"
)

# Fragments the heap the way a poll cycle does (medium blocks freed with a few kept
# between them, so the heap's top cannot shrink), then prints RSS freed and released.
_CHILD = textwrap.dedent(
    """
    from bot.service import heap

    def rss_mb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) // 1024

    heap.tune()
    blocks = [bytes(3000) + str(i).encode() for i in range(40_000)]
    kept = blocks[::50]
    del blocks
    freed = rss_mb()
    print(freed, heap.release(), rss_mb(), len(kept))
    """
)


def test_freed_blocks_are_returned_to_the_os() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    freed, released, after = int(out[0]), out[1], int(out[2])
    assert released == "True"
    # 40,000 blocks of 3 kB are ~120 MB; the 800 kept ones hold a few MB of it.
    assert freed - after > 60, (freed, after)


def test_glibc_takes_the_fixed_thresholds() -> None:
    assert heap.tune() is True

"""Settings of the `claims-audit` process itself, made before polars (or numpy) is first imported.

Polars allocates through jemalloc, with background purging threads. On import it sets jemalloc to hand
freed memory back to the kernel half a second after it is freed (`dirty_decay_ms:500,muzzy_decay_ms:1000`),
then adds whatever `_RJEM_MALLOC_CONF` already holds (the documented way to tune it, pola-rs/polars#18088;
jemalloc takes the last value given for a key). A run frees and allocates column buffers of many MiB all
night: handed back (`madvise`), each is asked for again a moment later, and every page of it faults in
and is zeroed anew. Keeping freed memory for 5 seconds lets the next piece reuse it: a 2,000,000-line
run 5-7 % faster, a 10,000,000-line one 10 %, for 40-100 MiB more peak memory (README, "Performance").
The memory is still handed back, seconds later, so a long run holds no more than it did. (No decay at
all, tried in session 6: 650 MB more at 10M lines.)

numpy (imported by openpyxl for the workbook) starts an OpenBLAS thread per core that the audit never
uses; one is enough.

Only the console entry point applies these, before anything imports polars (a test checks that importing
the CLI loads neither polars nor numpy): a library caller's process is its own. A user's own
`_RJEM_MALLOC_CONF` is added after ours, so it wins where both set a key; a user's OPENBLAS_NUM_THREADS
stands.
"""

from __future__ import annotations

import os
import sys

ALLOCATOR = "_RJEM_MALLOC_CONF"  # read by jemalloc (the `_RJEM_` prefix is that of polars' build)
ALLOCATOR_SETTINGS = "dirty_decay_ms:5000,muzzy_decay_ms:5000"
BLAS_THREADS = "OPENBLAS_NUM_THREADS"


def apply_runtime_settings() -> bool:
    """Make the settings above. False (and nothing set) when polars or numpy is loaded already: their
    libraries read the environment when they load."""
    if "polars" in sys.modules or "numpy" in sys.modules:
        return False
    own = os.environ.get(ALLOCATOR, "").strip().strip(",")
    os.environ[ALLOCATOR] = f"{ALLOCATOR_SETTINGS},{own}" if own else ALLOCATOR_SETTINGS
    os.environ.setdefault(BLAS_THREADS, "1")
    return True

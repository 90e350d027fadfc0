"""Settings of the `claims-audit` process itself, made before polars (or numpy) is first imported.

Polars allocates through jemalloc. On import it sets jemalloc's settings to purge freed memory after
half a second (`dirty_decay_ms:500,muzzy_decay_ms:1000`), adding whatever `_RJEM_MALLOC_CONF` already
holds after its own (the documented way to tune it, pola-rs/polars#18088), and jemalloc purges any block
of 8 MiB and more at once (its "huge" arena purges eagerly whenever decay is on). A run frees and allocates
column buffers of that size all night: each is handed back to the kernel (`madvise`) and, a moment later,
asked for again, and every page of it faults in and is zeroed anew. On a 2,000,000-line extract that was
about a fifth of the run's CPU time spent in the kernel. Keeping freed memory for 5 seconds instead lets
the next piece reuse it: the run is 5-7 % faster for 3-6 % more peak memory (measured figures in the
README, "Memory and chunking"). The blocks are still handed back, seconds later, so a long run does not
hold more than it did.

numpy (imported by openpyxl for the workbook) starts an OpenBLAS thread per core that the audit never
uses; one is enough.

Only the console entry point applies these, and only where the environment does not already say
otherwise: a library caller's process is its own, and a user's own `_RJEM_MALLOC_CONF` wins.
"""

from __future__ import annotations

import os
import sys

# environment variable -> value; read by jemalloc (the `_RJEM_` prefix is that of polars' build) and by
# OpenBLAS when their libraries load, which is why this must happen before the first `import polars`
RUNTIME_SETTINGS = {
    "_RJEM_MALLOC_CONF": "dirty_decay_ms:5000,muzzy_decay_ms:5000",
    "OPENBLAS_NUM_THREADS": "1",
}


def apply_runtime_settings() -> bool:
    """Set each of RUNTIME_SETTINGS the environment does not set already. False (and nothing set) when
    polars or numpy is loaded already: the allocator has read its settings by then."""
    if "polars" in sys.modules or "numpy" in sys.modules:
        return False
    for name, value in RUNTIME_SETTINGS.items():
        os.environ.setdefault(name, value)
    return True

"""Size limits on what a job file may make the reconciler read.

One limit serves the job file itself and every file it reads with ``file()``:
either way the bytes end up parsed and held in memory, so one number
(``--max-file-size``) bounds both.
"""

from __future__ import annotations

DEFAULT_MAX_FILE_SIZE = 256 * 1024
"""Largest job, variables or ``file()``-read file, in bytes: far above any real job (the
example jobs are 1-3 KB, big real ones tens of KB), small enough that one file's parse
stays around 2 CPU seconds and 80 MB (BENCHMARKS.md: 1 MiB costs 10 s and 210 MB).
A larger file is an error of that file, never parsed."""

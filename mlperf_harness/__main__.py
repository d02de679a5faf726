"""`python -m mlperf_harness ...`

The guard matters: vLLM starts its workers with spawn, which imports this module again in each worker (as
`__mp_main__`), where it must not run the command a second time."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

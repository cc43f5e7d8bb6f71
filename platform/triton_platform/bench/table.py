"""The public ``python -m triton_platform.bench.table``; the table is ``triton_platform.review.bench.table``."""

import sys

from ..review.bench.table import main

if __name__ == "__main__":
    sys.exit(main())

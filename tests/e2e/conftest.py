"""The e2e suite's markers.

``bench`` marks the measurements (repeated timings written to ``benchmarks/``): ``make e2e`` leaves
them out (``-m "e2e and not bench"``) and proves each behaviour once; ``make bench-e2e`` runs only
them (``-m "e2e and bench"``). Registered here, beside the only tests that use it.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "bench: an e2e measurement (repeated timings written to benchmarks/); `make bench-e2e` runs them, "
        "`make e2e` leaves them out",
    )

"""The ports the e2e workers hand to their programs never meet another worker's or the kernel's."""

from __future__ import annotations

import socket

import pytest

from support import ports


def test_a_worker_picks_distinct_ports_of_its_own_range_and_skips_one_in_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    own = ports.worker_range("gw1")
    first = ports.free_ports(3)
    nxt = ports.free_ports(1)[0]
    # The port this worker would pick next is bound by someone else first: it is passed over.
    held = own[(own.index(nxt) + 1) % len(own)]
    with socket.socket() as other:
        other.bind((ports.LOOPBACK, held))
        after = ports.free_ports(2)
    picked = [*first, nxt, *after]
    assert all(p in own for p in picked), (picked, own)
    assert len(set(picked)) == len(picked), picked
    assert held not in after
    assert not set(own) & set(ports.worker_range("gw0")) and not set(own) & set(ports.worker_range("gw2"))


def test_the_ranges_lie_below_the_kernels_ephemeral_ports_and_a_ninth_worker_shares_the_first() -> None:
    low = int(ports.EPHEMERAL_RANGE.read_text().split()[0])
    assert ports.worker_range(f"gw{ports.RANGES - 1}").stop <= low
    assert ports.worker_range(f"gw{ports.RANGES}") == ports.worker_range("gw0")


def test_outside_xdist_the_kernel_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    low, high = map(int, ports.EPHEMERAL_RANGE.read_text().split())
    assert all(low <= p <= high for p in ports.free_ports(4))

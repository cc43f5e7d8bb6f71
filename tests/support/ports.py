"""Loopback ports for the programs a test starts (etcd, kube-apiserver, istiod, KEDA, Triton...).

A test process picks such a port as the kernel would (bind to port 0, note the port, free it for
the program). That is safe in one process, but `make e2e` runs its modules in pytest-xdist workers
side by side, and a port one worker has freed for a program that has not bound it yet may be the
next the kernel hands to another worker (seen: istiod's "bind: address already in use"). So each
worker picks from a range of its own below the kernel's ephemeral range, where neither the kernel
nor another worker hands out ports; outside xdist the kernel's choice stands. A worker starts at a
random place in its range, so two runs side by side on one machine (two checkouts, two CI jobs)
rarely walk the same ports in step.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
from pathlib import Path

from triton_platform.delivery.triton_server import free_loopback_ports

LOOPBACK = "127.0.0.1"
FIRST_PORT = 20000
PORTS_PER_WORKER = 1500
#: Ranges below the kernel's default ephemeral range (32768 and up). Worker gw<N> takes range
#: N mod 8: more workers share ranges (xdist numbers a worker that replaces a crashed one anew).
RANGES = 8
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")

_taken = itertools.count(random.randrange(PORTS_PER_WORKER))


def worker_range(worker: str) -> range:
    """The ports of xdist worker ``gw<N>``; fails when they would meet the kernel's ephemeral range."""
    index = int(worker.removeprefix("gw")) % RANGES
    ports = range(FIRST_PORT + index * PORTS_PER_WORKER, FIRST_PORT + (index + 1) * PORTS_PER_WORKER)
    ephemeral_low = int(EPHEMERAL_RANGE.read_text().split()[0]) if EPHEMERAL_RANGE.exists() else 32768
    if ports.stop > ephemeral_low:
        raise RuntimeError(
            f"the kernel hands out ephemeral ports from {ephemeral_low} ({EPHEMERAL_RANGE}), inside worker "
            f"{worker}'s ports {ports.start}-{ports.stop - 1}: run the modules one after another "
            "(E2E_WORKERS=0 make e2e)"
        )
    return ports


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1, none handed out before by this process's range."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return free_loopback_ports(count)
    ports = worker_range(worker)
    found: list[int] = []
    for _ in ports:
        port = ports[next(_taken) % len(ports)]
        if _bindable(port):
            found.append(port)
            if len(found) == count:
                return found
    raise RuntimeError(f"fewer than {count} free ports in {ports.start}-{ports.stop - 1} on {LOOPBACK}")


def free_port() -> int:
    return free_ports(1)[0]

"""Helpers every concern shares: recommended labels, Triton's ports, quantities, pinned versions and
the GPU taint contract. Nothing here declares a resource or imports a cloud SDK."""

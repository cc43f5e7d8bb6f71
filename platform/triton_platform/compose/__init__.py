"""Composition of one environment: the cloud-neutral seam, Triton, mesh, observability, egress, checks."""

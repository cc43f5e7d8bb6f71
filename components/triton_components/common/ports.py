"""Triton's port contract: the container, its Service, the mesh and the monitors all agree on these."""

HTTP_PORT = 8000
GRPC_PORT = 8001
METRICS_PORT = 8002

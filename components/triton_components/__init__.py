"""Reusable Pulumi components for running NVIDIA Triton Inference Server on Kubernetes.

The package is grouped by concern:

* ``serving``: ``TritonServer`` and one ``TritonModelGroup`` per group of models (Deployment,
  Service, PDB), with the hardened pod template, and ``TritonEgressPolicy`` for its namespace;
* ``mesh``: Istio installation, routing (gateway, ``/triton`` rewrite, canary split) and security;
* ``observability``: monitors, alerts, dashboard, KEDA autoscaling and their add-ons;
* ``gcp`` and ``aws``: each cloud's GPU nodes, model bucket and reader identity, imported only by
  the programs that use them, so a GCP program never loads the AWS SDK and vice versa;
* ``common``: labels, ports, quantities, pinned versions and the GPU taint contract.

Every name in ``__all__`` below (and in ``gcp.__all__`` / ``aws.__all__``) is the public API and is
importable from here; module paths inside the subpackages are internal and may move.
"""

from . import mesh, observability, serving
from .mesh import *  # noqa: F403  (each subpackage's __all__ is its public API)
from .observability import *  # noqa: F403
from .serving import *  # noqa: F403

__all__ = [*serving.__all__, *mesh.__all__, *observability.__all__]  # noqa: PLE0604 - one list per subpackage

"""The lab's machinery, one module per program: ``processes`` (child processes, ports, bounded waits,
prerequisites), ``triton``, ``emulators`` (moto, fake-gcs-server), ``prometheus`` (and promtool), ``load``;
``renders`` reads what they run from the renders, ``observability`` and ``reaction`` build scenarios on them.

The public names of the program modules are also importable from here as one namespace, for suites
that use the machinery as a whole (``from support import lab``).
"""

from support.lab.emulators import GcsEmulator, GoogleTokenServer, S3Emulator, Storage, files_under, split_bucket_url
from support.lab.load import Load, infer_grpc, infer_http
from support.lab.processes import (
    INSTALL_COMMAND,
    LOOPBACK,
    MissingPrerequisite,
    Process,
    http_status,
    require_executable,
    wait_until,
)
from support.lab.prometheus import Prometheus, ScrapeTarget, parse_seconds, promtool, rule_file, scrape_job
from support.lab.renders import (
    RenderedTriton,
    RestrictedGroup,
    expand_k8s_vars,
    first_stack_with,
    manifests_of,
    rendered_stacks,
    rendered_tritons,
    triton_deployments,
    variant_render,
)
from support.lab.triton import (
    BROKEN_CONFIG,
    STANDIN_MODEL,
    Running,
    TritonInstall,
    TritonLaunch,
    TritonServer,
    admin_key_ref,
    backend_directory,
    launch_for,
    standin_config,
    start_rendered,
    triton_install,
    write_model_repository,
)
from support.ports import free_port

__all__ = [
    "BROKEN_CONFIG",
    "INSTALL_COMMAND",
    "LOOPBACK",
    "STANDIN_MODEL",
    "GcsEmulator",
    "GoogleTokenServer",
    "Load",
    "MissingPrerequisite",
    "Process",
    "Prometheus",
    "RenderedTriton",
    "RestrictedGroup",
    "Running",
    "S3Emulator",
    "ScrapeTarget",
    "Storage",
    "TritonInstall",
    "TritonLaunch",
    "TritonServer",
    "admin_key_ref",
    "backend_directory",
    "expand_k8s_vars",
    "files_under",
    "first_stack_with",
    "free_port",
    "http_status",
    "infer_grpc",
    "infer_http",
    "launch_for",
    "manifests_of",
    "parse_seconds",
    "promtool",
    "rendered_stacks",
    "rendered_tritons",
    "require_executable",
    "rule_file",
    "scrape_job",
    "split_bucket_url",
    "standin_config",
    "start_rendered",
    "triton_deployments",
    "triton_install",
    "variant_render",
    "wait_until",
    "write_model_repository",
]

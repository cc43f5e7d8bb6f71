"""``triton-platform model check|publish|load|promote|endpoints``: the CLI face of the delivery API."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def add_model_commands(commands: Any, project_root: Any) -> None:
    """Register ``model ...`` on the CLI's subparsers; ``project_root(cwd)`` finds Pulumi.yaml."""
    model = commands.add_parser("model", help="check, publish, load and promote models (needs the delivery extras)")
    sub = model.add_subparsers(dest="model_command", required=True)

    def stack_args(parser: argparse.ArgumentParser, required: bool) -> None:
        parser.add_argument("--stack", required=required, help="stack name (Pulumi.<stack>.yaml)")
        parser.add_argument("--group", help="model group (default: the group serving the model, else the first)")

    check = sub.add_parser("check", help="validate a model folder or repository: fast checks, then Triton's own load")
    check.add_argument("path", metavar="PATH")
    stack_args(check, required=False)
    check.add_argument(
        "--fast", action="store_true", help="only the fast checks (no tritonserver start); the result is partial"
    )
    check.set_defaults(func=_check, project_root=project_root)

    publish = sub.add_parser("publish", help="check, then upload new model versions to the stack's repository")
    publish.add_argument("path", metavar="PATH")
    stack_args(publish, required=False)
    publish.add_argument(
        "--repository", help="repository URL (default: stack output modelRepository via the Pulumi CLI)"
    )
    publish.add_argument("--version", type=_version, help="publish the folder's one version as N, or 'next'")
    publish.add_argument("--canary", action="store_true", help="publish into the group's canary.modelRepositoryPath")
    publish.add_argument(
        "--endpoint-url",
        help=f"{_endpoint_urls()} (also {' / '.join(s.endpoint_variable for s in _stores())})",
    )
    publish.add_argument(
        "--fast", action="store_true", help="check with the fast checks only (no tritonserver start) before publishing"
    )
    publish.set_defaults(func=_publish, project_root=project_root)

    load = sub.add_parser("load", help="load a published version on every running pod of a group (explicit mode)")
    load.add_argument("model", metavar="MODEL")
    stack_args(load, required=True)
    load.add_argument("--canary", action="store_true", help="the group's canary pods")
    load.add_argument("--version", type=int, help="wait until this version is ready on each pod")
    load.add_argument(
        "--url", action="append", default=[], help="a Triton HTTP URL to load on instead of the pods (repeatable)"
    )
    load.add_argument(
        "--admin-key-env",
        default="TRITON_ADMIN_KEY",
        help="environment variable holding the admin key (default: read Secret triton-admin-key)",
    )
    load.set_defaults(func=_load, project_root=project_root)

    promote = sub.add_parser("promote", help="copy a canary's versions into the stable repository")
    stack_args(promote, required=True)
    promote.add_argument("--repository", help="stable repository URL (default: stack output modelRepository)")
    promote.add_argument("--endpoint-url", help=_endpoint_urls())
    promote.add_argument(
        "--force", action="store_true", help="promote although the canary does not carry 100 %% of the traffic"
    )
    promote.set_defaults(func=_promote, project_root=project_root)

    endpoints = sub.add_parser("endpoints", help="print where a model answers through the gateway")
    endpoints.add_argument("model", metavar="MODEL")
    endpoints.add_argument("--stack", required=True)
    endpoints.set_defaults(func=_endpoints, project_root=project_root)


def _stores() -> list[Any]:
    from ..clouds import registered

    return [cloud.store for cloud in registered() if cloud.store is not None]


def _endpoint_urls() -> str:
    """What ``--endpoint-url`` may point at: each registered cloud's store says."""
    return " or ".join(store.endpoint for store in _stores())


def _version(text: str) -> int | str:
    if text == "next" or (text.isdigit() and int(text) > 0):
        return text if text == "next" else int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not a version: give a positive whole number or 'next'")


def _fail(message: str) -> int:
    print(f"triton-platform: {message}", file=sys.stderr)
    return 1


def _guarded(run: Any) -> Any:
    def wrapper(args: argparse.Namespace) -> int:
        from ..config.loader import ConfigError
        from ._extras import MissingExtra
        from .live import LoadFailed
        from .publish import PublishRefused
        from .storage import StorageError

        try:
            return run(args)
        except PublishRefused as refused:
            print("\n".join(refused.problems), file=sys.stderr)
            return _fail("nothing was written")
        except ConfigError as error:
            print(error, file=sys.stderr)
            return 1
        except (MissingExtra, StorageError, LoadFailed, ValueError) as error:
            return _fail(str(error))

    return wrapper


def _stack(args: argparse.Namespace) -> Any:
    from .stack import load_stack

    return load_stack(args.project_root(Path.cwd()), args.stack)


def _group_for(ctx: Any, args: argparse.Namespace, model: str | None) -> str:
    if args.group:
        return ctx.group(args.group)[1].name
    return (ctx.group_of_model(model) if model else None) or ctx.settings.model_groups[0].name


@_guarded
def _check(args: argparse.Namespace) -> int:
    from .check import check_repository, inspect_repository
    from .group import GroupSpec

    spec: GroupSpec | None = None
    if args.stack:
        ctx = _stack(args)
        names = list(inspect_repository(args.path).models)
        spec = ctx.spec(_group_for(ctx, args, names[0] if len(names) == 1 else None))
    report = check_repository(args.path, spec, triton=not args.fast)
    print("\n".join(report.lines()))
    problems = report.problems
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return _fail(f"{len(problems)} problem(s) in {args.path}")
    print(f"{args.path}: OK" + (f" for group {spec.name!r}" if spec else ""))
    return 0


@_guarded
def _publish(args: argparse.Namespace) -> int:
    from .check import inspect_repository
    from .publish import publish
    from .stack import endpoints, next_steps, repository_location, track_location
    from .storage import open_store, parse_location

    if args.stack is None and args.repository is None:
        return _fail("give --stack (the repository comes from its outputs) or --repository URL")
    version = args.version
    track = "canary" if args.canary else "stable"
    if args.stack is None:
        location = parse_location(args.repository)
        spec = None
        ctx = None
    else:
        ctx = _stack(args)
        names = list(inspect_repository(args.path).models)
        group = _group_for(ctx, args, names[0] if len(names) == 1 else None)
        spec = ctx.spec(group)
        location = track_location(ctx, repository_location(ctx, args.repository), group, track)
    store = open_store(location, args.endpoint_url)
    result = publish(args.path, location, store, group=spec, version=version, log=print, triton=not args.fast)
    for model in result.models:
        if ctx is None:
            continue
        print()
        print(f"{model.name} version(s) {model.versions} are in {location.url}/{model.name}/.")
        model_group = args.group or ctx.group_of_model(model.name) or (spec.name if spec else None)
        print("\n".join(next_steps(ctx, model.name, model_group, track)))
        print("Endpoints:")
        print("\n".join(f"  {line}" for line in endpoints(ctx, model.name, track)))
    return 0


@_guarded
def _load(args: argparse.Namespace) -> int:
    from .live import load_on_group, load_on_servers
    from .stack import next_steps

    ctx = _stack(args)
    group = _group_for(ctx, args, args.model)
    track = "canary" if args.canary else "stable"
    _, settings = ctx.group(group)
    if ctx.settings.triton.model_control_mode != "explicit" or args.model not in settings.models:
        # A load the Deployment's args do not repeat would be lost by the next pod to start (#3471).
        return _fail(
            f"{args.model} is not loaded by the repository API in this stack:\n"
            + "\n".join(next_steps(ctx, args.model, group, track))
        )
    key = os.environ.get(args.admin_key_env)
    if args.url:
        if not key:
            return _fail(f"--url needs the admin key in ${args.admin_key_env}")
        outcomes = load_on_servers(args.model, args.url, key, version=args.version)
    else:
        outcomes = load_on_group(
            args.model, ctx.settings.triton.namespace, group, track, version=args.version, admin_key=key
        )
    for outcome in outcomes:
        print(f"{outcome.server}: {args.model} ready, versions {outcome.versions} ({outcome.seconds:.1f} s)")
    return 0


@_guarded
def _promote(args: argparse.Namespace) -> int:
    from .promote import promote
    from .stack import repository_location, track_location
    from .storage import open_store

    ctx = _stack(args)
    _, group = ctx.group(args.group)
    weights = group.canary.traffic_percent if group.canary else None
    if weights is not None and weights.canary != 100 and not args.force:
        return _fail(
            f"group {group.name!r}: the canary carries {weights.canary} % of the traffic; promote when it "
            "carries 100 % (stable then serves nobody while it takes the new versions), or pass --force"
        )
    stable = repository_location(ctx, args.repository)
    canary = track_location(ctx, stable, group.name, "canary")
    models = list(group.models) if ctx.settings.triton.model_control_mode == "explicit" else None
    result = promote(open_store(stable, args.endpoint_url), canary, stable, models, log=print)
    if result.copied:
        from triton_components.common import names

        deployment = names.deployment_name(group.name)
        print(
            f"Next: make {deployment} load them while it carries no traffic "
            + (
                "(`triton-platform model load MODEL --stack ...` per model)"
                if models
                else f"(`kubectl rollout restart deployment/{deployment} -n {ctx.settings.triton.namespace}`)"
            )
            + ", then set trafficPercent back to {stable: 100, canary: 0} and pulumi up."
        )
    return 0


@_guarded
def _endpoints(args: argparse.Namespace) -> int:
    from .stack import endpoints

    ctx = _stack(args)
    if ctx.settings.triton.model_control_mode == "explicit" and ctx.group_of_model(args.model) is None:
        # Explicit mode loads only the models the groups list: the gateway would answer 404 for this one.
        groups = "; ".join(f"{g.name}: {', '.join(g.models) or 'none'}" for g in ctx.settings.model_groups)
        return _fail(
            f"no model group of stack {ctx.name!r} serves {args.model!r} (groups and their models: {groups}); "
            f"add it to a group's models (`pulumi config set --path "
            f"'triton-platform:modelGroups[<i>].models[<n>]' {args.model} --stack {ctx.name}`, then "
            "`pulumi up`), or check the name"
        )
    print("\n".join(endpoints(ctx, args.model)))
    return 0

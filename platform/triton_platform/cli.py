"""``triton-platform``: validate and render stacks offline (no Pulumi CLI, no cloud account)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config.loader import ConfigError


def _project_root(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    raise SystemExit(f"triton-platform: no Pulumi.yaml in {start} or any parent directory")


def _stacks(root: Path, requested: list[str], command: str) -> list[str]:
    from .review.render import stack_files

    available = stack_files(root)
    unknown = [s for s in requested if s not in available]
    if unknown:
        raise SystemExit(
            f"triton-platform: no Pulumi.{unknown[0]}.yaml in {root}; stacks here: {', '.join(available) or 'none'}"
        )
    if not available:
        # Exit 1, not 0: a CI job (or `make validate`) run in the wrong folder must not pass having checked nothing.
        raise SystemExit(
            f"triton-platform {command}: nothing to {command}: {root} has Pulumi.yaml but no Pulumi.<stack>.yaml; "
            "create one per stack (`pulumi stack init dev`, then `pulumi config set triton-platform:environment dev`)"
        )
    return requested or list(available)


def _validate(args: argparse.Namespace) -> int:
    from .config.loader import PROJECT
    from .review.render import project_program, validate_stack

    root = _project_root(Path.cwd())
    failed = 0
    for stack in _stacks(root, args.stacks, "validate"):
        try:
            validate_stack(root, stack)
            project = project_program(root)[0]
            print(
                f"{stack}: configuration is valid"
                if project == PROJECT
                else f"{stack}: stack file is readable; project {project} checks its own configuration when it runs"
            )
        except Exception as error:  # noqa: BLE001 - one stack's failure never stops the others
            print(_failure("Validating", stack, error), file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _render(args: argparse.Namespace) -> int:
    from .review.render import discard_render, prune_renders, render_stack, stack_files, write_render
    from .review.report import summary

    root = _project_root(Path.cwd())
    out_dir = Path(args.out)
    unusable = _unusable_out_dir(out_dir)
    if unusable:
        print(f"triton-platform render: {unusable}; give a directory (created if missing)", file=sys.stderr)
        return 2
    failed = 0
    for stack in _stacks(root, args.stacks, "render"):
        try:
            render = render_stack(root, stack)
            target = write_render(render, out_dir)
        except Exception as error:  # noqa: BLE001 - one stack's failure never stops the others
            print(_failure("Rendering", stack, error), file=sys.stderr)
            removed = discard_render(out_dir, stack)
            if removed:
                print(
                    f"Removed {removed}, the older render of this stack, so it is not mistaken for a current one",
                    file=sys.stderr,
                )
            failed += 1
            continue
        print(summary(render, target))
    if args.prune:
        for removed in prune_renders(out_dir, set(stack_files(root))):
            print(f"Removed {removed}: Pulumi.{removed.name}.yaml is gone")
    return 1 if failed else 0


def _failure(action: str, stack: str, error: Exception) -> str:
    """One message for a stack that failed: config errors as they are, anything else naming the file."""
    if isinstance(error, ConfigError):
        return str(error)
    if isinstance(error, OSError) and error.filename:
        return f"{action} Pulumi.{stack}.yaml failed: {error.filename}: {(error.strerror or str(error)).lower()}"
    return f"{action} Pulumi.{stack}.yaml failed: {type(error).__name__}: {error}"


def _unusable_out_dir(out_dir: Path) -> str | None:
    """Why ``--out`` cannot be a directory (a file is in the way), or None."""
    for candidate in (out_dir, *out_dir.parents):
        if candidate.is_dir():
            return None
        if candidate.exists() or candidate.is_symlink():
            if candidate == out_dir:
                return f"--out {out_dir} is a file, not a directory"
            return f"--out {out_dir} cannot be created: {candidate} is a file, not a directory"
    return None


def _diff(args: argparse.Namespace) -> int:
    from .review.diff_report import run

    stack_map = {}
    for pair in args.stack_map:
        base, sep, head = pair.partition("=")
        if not (sep and base and head):
            print(
                f"triton-platform diff: --stack-map {pair}: give BASE_STACK=HEAD_STACK, e.g. --stack-map dev=mine",
                file=sys.stderr,
            )
            return 2
        stack_map[base] = head
    return run(
        Path(args.base),
        Path(args.head),
        Path(args.output) if args.output else None,
        args.fail_on_flagged,
        stack_map=stack_map,
    )


def _bench(args: argparse.Namespace) -> int:
    from .review.bench import run as bench

    return bench(_project_root(Path.cwd()), quick=args.quick, json_path=Path(args.json) if args.json else None)


def _config_reference(args: argparse.Namespace) -> int:
    from .config.reference import render, write

    if args.out is None:
        sys.stdout.write(render())
        return 0
    changed = write(Path(args.out))
    print(f"{args.out}: {'written' if changed else 'already current'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triton-platform", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check stack configuration only")
    validate.add_argument("stacks", nargs="*", metavar="STACK", help="stack names (default: every Pulumi.*.yaml)")
    validate.set_defaults(func=_validate)
    render = commands.add_parser("render", help="render stacks offline to manifests.yaml and resources.json")
    render.add_argument("stacks", nargs="*", metavar="STACK", help="stack names (default: every Pulumi.*.yaml)")
    render.add_argument("--out", default="rendered", metavar="DIR", help="output directory (default: rendered)")
    render.add_argument(
        "--prune", action="store_true", help="also remove renders in DIR of stacks whose Pulumi.<stack>.yaml is gone"
    )
    render.set_defaults(func=_render)
    diff = commands.add_parser("diff", help="compare two render outputs; Markdown for a merge-request comment")
    diff.add_argument("base", metavar="BASE_DIR", help="render output of the target branch")
    diff.add_argument("head", metavar="HEAD_DIR", help="render output of the merge request")
    diff.add_argument("--fail-on-flagged", action="store_true", help="exit 1 when a change is flagged for review")
    diff.add_argument("--output", metavar="FILE", help="write the Markdown to FILE instead of stdout")
    diff.add_argument(
        "--stack-map",
        action="append",
        default=[],
        metavar="BASE_STACK=HEAD_STACK",
        help="compare HEAD_STACK with BASE_STACK instead of a same-named stack (repeatable), "
        "e.g. a new stack with the one it was copied from: --stack-map dev=mine",
    )
    diff.set_defaults(func=_diff)
    bench = commands.add_parser("bench", help="measure program cost, scaling, start-up and install size")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions and sizes (for CI logs)")
    bench.add_argument(
        "--json", metavar="FILE", help="write results to FILE (default: benchmarks/results.json, full runs only)"
    )
    bench.set_defaults(func=_bench)
    reference = commands.add_parser(
        "config-reference", help="the configuration reference (docs/configuration.md), from the config models' docs"
    )
    reference.add_argument("--out", metavar="FILE", help="write it to FILE (default: print it)")
    reference.set_defaults(func=_config_reference)
    from .delivery.commands import add_model_commands

    add_model_commands(commands, _project_root)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# Starts the CrossGuard pack beside it (policy/, copied there by tests/e2e) as an executable
# analyzer plugin: what upstream's Python language host does for a directory pack
# (`python -u -m pulumi.policy <engine address> <pack dir>` in the pack's virtualenv). Only for
# a language host without RunPlugin (the e2e toolchain's); users run `--policy-pack policy`.
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/venv/bin/python" -u -m pulumi.policy "$@" "$here"

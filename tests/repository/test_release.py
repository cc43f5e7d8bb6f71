"""Shipped like a library: the license the metadata names, a changelog in Keep a
Changelog form, artifacts checked in every CI run, and tag-triggered releases with trusted
publishing (no stored token). Building and installing the artifacts is `.ci/package` itself, run
by `.ci/run`; these tests keep its guards and the release pipelines honest."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
#: md5 of the Apache License 2.0 as apache.org publishes it (LICENSE-2.0.txt).
APACHE_2_0_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"
KEEP_A_CHANGELOG_KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_the_license_file_is_the_standard_text_of_the_license_the_metadata_names():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert hashlib.md5((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_0_MD5


def test_the_changelog_keeps_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n") and "https://keepachangelog.com/" in text
    releases = re.findall(r"^## (.*)$", text, re.MULTILINE)
    assert releases[0] == "[Unreleased]"
    for heading in releases[1:]:
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", heading), heading
    kinds = set(re.findall(r"^### (.*)$", text, re.MULTILINE))
    assert kinds <= KEEP_A_CHANGELOG_KINDS, kinds - KEEP_A_CHANGELOG_KINDS
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    # What changed for users: the layout move, with the imports that stay stable.
    for stable in ("from triton_components import TritonServer", "from triton_components.gcp import"):
        assert stable in unreleased


def _package(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / ".ci" / "package")],
        env={**os.environ, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_release_tag_must_match_the_version():
    result = _package(RELEASE_TAG="v999.0.0")
    assert result.returncode == 1
    assert result.stdout.strip() == (
        f"package: tag v999.0.0 does not match version {VERSION} in pyproject.toml (expected v{VERSION})"
    )


def test_a_release_needs_its_changelog_section_without_placeholders():
    text = (ROOT / "CHANGELOG.md").read_text()
    section = re.search(rf"^## \[{re.escape(VERSION)}\][^\n]*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if section and "TODO" not in section[1]:
        return  # released version, complete section: nothing to refuse
    result = _package(RELEASE_TAG=f"v{VERSION}")
    assert result.returncode == 1
    assert result.stdout.strip() == (
        f"package: CHANGELOG.md needs a '## [{VERSION}]' section without TODO placeholders"
    )


def test_ci_builds_and_checks_the_artifacts_on_every_run():
    run = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^bash \.ci/package\b", run, re.MULTILINE)
    package = (ROOT / ".ci" / "package").read_text()
    for step in ("-m build", "twine check --strict", "-m venv", "import triton_components", "--help"):
        assert step in package
    assert "release" in PYPROJECT["project"]["optional-dependencies"]


def test_github_release_publishes_tags_with_trusted_publishing_only():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # PyYAML reads the `on:` key as True
    assert workflow["permissions"] == {"contents": "read"}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    (package_step,) = [step for step in build["steps"] if ".ci/package dist" in step.get("run", "")]
    assert package_step["env"] == {"RELEASE_TAG": "${{ github.ref_name }}"}
    assert "id-token" not in str(build.get("permissions", {})), "the build job runs third-party code: no OIDC token"
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    (upload,) = [step for step in publish["steps"] if "gh-action-pypi-publish" in step.get("uses", "")]
    assert "with" not in upload, "no password or token input: trusted publishing"
    assert "secrets." not in (ROOT / ".github" / "workflows" / "release.yml").read_text()


def test_gitlab_release_publishes_tags_with_trusted_publishing_only():
    text = (ROOT / ".gitlab-ci.yml").read_text()
    pipeline = yaml.safe_load(text)
    tag_rule = "$CI_COMMIT_TAG =~ /^v\\d/"
    assert {"if": tag_rule} in pipeline["workflow"]["rules"], "tag pipelines must be allowed to run"
    package, release = pipeline["package"], pipeline["release"]
    assert package["rules"] == release["rules"] == [{"if": tag_rule}]
    assert package["variables"] == {"RELEASE_TAG": "$CI_COMMIT_TAG"}
    assert package["script"] == ["bash .ci/package dist"] and package["artifacts"]["paths"] == ["dist/"]
    assert "id_tokens" not in package, "the build job runs third-party code: no ID token"
    assert release["needs"] == ["package"]
    assert release["environment"]["name"] == "pypi"
    # twine's trusted publishing looks for <AUDIENCE>_ID_TOKEN: audience pypi, variable PYPI_ID_TOKEN.
    assert release["id_tokens"] == {"PYPI_ID_TOKEN": {"aud": "pypi"}}
    assert any(line.startswith("python -m twine upload") for line in release["script"])
    assert not re.search(r"TWINE_PASSWORD|PYPI_(API_)?TOKEN\b|--password", text), "no stored token"

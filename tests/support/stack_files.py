"""Stack files whose values YAML 1.1 (PyYAML) and the Pulumi CLI (Go's yaml.v3, YAML 1.2) read apart.

Each case is the ``config:`` section of one stack file. ``SECURE(name)`` stands for a ``{secure:
<ciphertext>}`` of the secret ``name`` (``SECRETS``): the e2e test puts real ciphertexts there
(``pulumi config set --secret``), the unit test a stand-in (the reader never decrypts).
``tests/e2e/test_stack_file_reader.py`` checks that our reader gives what the real CLI and the running
program get; ``tests/config/test_config_stack_file.py`` pins what that is, without the CLI.
"""

from __future__ import annotations

import re

#: Plaintexts of the secrets the cases use.
SECRETS = {"key": "s3cr3t-admin-key", "token": "tok-123", "item": "listed-secret"}

CASES: dict[str, str] = {
    "booleans": """
  triton-platform:b-true: true
  triton-platform:b-True: True
  triton-platform:b-TRUE: TRUE
  triton-platform:b-false: false
  triton-platform:b-False: False
  triton-platform:b-FALSE: FALSE
  triton-platform:b-yes: yes
  triton-platform:b-Yes: Yes
  triton-platform:b-YES: YES
  triton-platform:b-no: no
  triton-platform:b-No: No
  triton-platform:b-on: on
  triton-platform:b-On: On
  triton-platform:b-off: off
  triton-platform:b-OFF: OFF
  triton-platform:b-y: y
  triton-platform:b-n: n
  triton-platform:b-quoted: "true"
  triton-platform:b-tagged: !!bool true
  triton-platform:bools: {a: yes, b: True, c: off, d: y, e: "true", f: !!bool false, g: No, h: tRuE}
  triton-platform:bool-list: [yes, no, on, off, true, false, True, FALSE]
""",
    "numbers": """
  triton-platform:n-int: 42
  triton-platform:n-negative: -7
  triton-platform:n-plus: +7
  triton-platform:n-hex: 0x1F
  triton-platform:n-octal-0o: 0o17
  triton-platform:n-octal-leading-zero: 017
  triton-platform:n-not-octal: 09
  triton-platform:n-binary: 0b101
  triton-platform:n-underscores: 1_000
  triton-platform:n-float: 1.50
  triton-platform:n-whole-float: 2.0
  triton-platform:n-exponent: 1e3
  triton-platform:n-small: 1e-7
  triton-platform:n-beyond-int64: 99999999999999999999
  triton-platform:n-out-of-range: 1e400
  triton-platform:n-leading-dot: .5
  triton-platform:n-sexagesimal: 1:30
  triton-platform:n-quoted: "5"
  triton-platform:n-str-tag: !!str 5
  triton-platform:n-float-tag: !!float 5
  triton-platform:n-version: 1.10
  triton-platform:n-address: 10.0.0.1
  triton-platform:numbers: {a: 0x1F, b: 1e3, c: 017, d: "2", e: 2.0, f: 1.0e+21, g: 123456789012345678, h: 0.000001, i: -0.0, j: 1_5.2_5}
  triton-platform:number-list: [1, 1.5, 0o7, 1e2, "3", 1:2]
""",
    "nulls": """
  triton-platform:null-empty:
  triton-platform:null-tilde: ~
  triton-platform:null-word: null
  triton-platform:null-Null: Null
  triton-platform:null-quoted: "null"
  triton-platform:nulls: {a: ~, b: null, c: , d: NULL, e: "~"}
  triton-platform:null-list: [~, null, "", Null]
""",
    "anchors": """
  triton-platform:base: &base {x: 1, y: [a, b], z: {deep: yes}}
  triton-platform:alias: *base
  triton-platform:merged: {<<: *base, y: 3}
  triton-platform:other: &other {w: 0x10}
  triton-platform:merged-list: {<<: [*base, *other], x: overridden}
  triton-platform:scalar-anchor: &word on
  triton-platform:scalar-alias: [*word, *word]
""",
    "strings": """
  triton-platform:literal: |
    line one
      indented two
    line three
  triton-platform:literal-strip: |-
    kept
    stripped
  triton-platform:literal-keep: |+
    kept with trailing

  triton-platform:folded: >
    folded
    into one
  triton-platform:folded-strip: >-
    a
    b
  triton-platform:plain-multiline: first
    second
  triton-platform:double-quoted: "tab\\there \\u00e9 \\"q\\""
  triton-platform:single-quoted: 'it''s'
  triton-platform:colon: a:b
  triton-platform:hash: a #not a comment
  triton-platform:unicode: héllo ✓
  triton-platform:strings: {a: "x: y", b: "two\nlines", c: 'single', d: plain words}
""",
    "timestamps": """
  triton-platform:t-date: 2026-01-02
  triton-platform:t-utc: 2026-01-02T03:04:05Z
  triton-platform:t-fraction: 2026-01-02T03:04:05.50Z
  triton-platform:t-space: 2026-01-02 03:04:05
  triton-platform:t-offset: 2026-01-02T03:04:05+02:00
  triton-platform:t-short-fields: 2026-1-2
  triton-platform:t-not-a-date: 2026-13-01
  triton-platform:t-quoted: "2026-01-02"
  triton-platform:t-tagged-str: !!str 2026-01-02
  triton-platform:timestamps: {a: 2026-01-02, b: "2026-01-02"}
""",
    "keys": """
  environment: dev
  triton-platform:odd-keys: {1: one, true: yes, ~: none, 1.5: half, 010: octal}
  triton-platform:binary: !!binary aGVsbG8=
""",
    "secrets": """
  triton-platform:adminApiKey: SECURE(key)
  triton-platform:auth: {token: SECURE(token), user: admin, port: 0x50}
  triton-platform:secret-list: [plain, SECURE(item)]
""",
}

_SECURE = re.compile(r"SECURE\((\w+)\)")


def stack_text(case: str, ciphertexts: dict[str, str], extra: str = "") -> str:
    """The stack file of ``case``: ``config:`` with each ``SECURE(name)`` as ``{secure: <ciphertext>}``."""
    body = _SECURE.sub(lambda m: "{secure: " + ciphertexts[m.group(1)] + "}", CASES[case])
    return "config:" + body + extra


def secrets_of(case: str) -> list[str]:
    return sorted(set(_SECURE.findall(CASES[case])))

"""Create or update this pipeline's note on a GitLab merge request (standard library only).

    python3 .ci/gitlab_mr_note.py MARKDOWN_FILE [MARKER]

The note is found again by MARKER (default: the file's first line, e.g. the hidden HTML comment
``triton-platform diff`` starts with), so each pipeline edits its note instead of adding one.
Needs a project or group access token with the ``api`` scope in the CI variable named by
GITLAB_NOTE_TOKEN_VARIABLE (default GITLAB_NOTE_TOKEN; mark it masked and protected). Uses GitLab's
predefined CI_API_V4_URL, CI_PROJECT_ID and CI_MERGE_REQUEST_IID. The token is sent in a header and
never printed. Exit 3 when GitLab refuses the request (the job may allow that).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

#: GitLab's note size limit is 1,000,000 characters; stay well below.
MAX_CHARS = 900_000


def _request(method: str, url: str, token: str, body: dict | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("PRIVATE-TOKEN", token)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:  # CI_API_V4_URL is https
        return json.loads(response.read() or b"null")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    body = Path(argv[1]).read_text()[:MAX_CHARS]
    marker = argv[2] if len(argv) == 3 else body.splitlines()[0]
    variable = os.environ.get("GITLAB_NOTE_TOKEN_VARIABLE", "GITLAB_NOTE_TOKEN")
    token = os.environ.get(variable, "")
    api, project, mr = (os.environ.get(k, "") for k in ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID"))
    if not (token and api and project and mr):
        print(f"gitlab_mr_note: no {variable} or not a merge-request pipeline; note not posted", file=sys.stderr)
        return 0
    notes_url = f"{api}/projects/{urllib.parse.quote(project, safe='')}/merge_requests/{mr}/notes"
    try:
        print(f"gitlab_mr_note: note {_upsert(notes_url, token, marker, body)}")
    except urllib.error.URLError as error:  # HTTPError included; the URL and token are not printed
        print(f"gitlab_mr_note: GitLab refused the note: {getattr(error, 'code', '')} {error.reason}", file=sys.stderr)
        return 3
    return 0


def _upsert(notes_url: str, token: str, marker: str, body: str) -> str:
    existing = None
    page = 1
    while existing is None:
        notes = _request("GET", f"{notes_url}?per_page=100&page={page}&sort=asc", token)
        if not isinstance(notes, list) or not notes:
            break
        existing = next((n["id"] for n in notes if str(n.get("body", "")).startswith(marker)), None)
        page += 1
    if existing is None:
        _request("POST", notes_url, token, {"body": body})
        return "created"
    _request("PUT", f"{notes_url}/{existing}", token, {"body": body})
    return "updated"


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""`make test-stress` runs `make test` STRESS_RUNS times in a row while stress-ng keeps every core
busy, and stops stress-ng when it ends, passed or failed.

Here `make` is a stand-in on PATH that records what it sees (the whole suite is not run from inside
the suite); `.ci/test-stress` is the script the Makefile target runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.lab.processes import require_executable

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "test-stress"


@pytest.fixture(autouse=True)
def stress_ng_is_installed():
    """A missing prerequisite is a failure naming its install command, never a skip."""
    require_executable("stress-ng", package="stress-ng")


def run_with_fake_make(
    tmp_path: Path, exit_codes: list[int], runs: int
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the script with a `make` that notes its arguments and the stress-ng its parent started
    (that stress-ng process and its workers), and exits with the next of ``exit_codes``."""
    env = fake_make(tmp_path, exit_codes, runs)
    notes = tmp_path / "notes"
    result = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return result, notes.read_text().splitlines() if notes.exists() else []


def fake_make(tmp_path: Path, exit_codes: list[int | str], runs: int) -> dict[str, str]:
    """The environment that puts the recording `make` first on PATH; an exit code "hang" makes it wait
    (for a minute) until it is interrupted."""
    shim = tmp_path / "bin"
    shim.mkdir()
    notes = tmp_path / "notes"
    codes = tmp_path / "codes"
    codes.write_text("\n".join(map(str, exit_codes)) + "\n")
    (shim / "make").write_text(
        "#!/usr/bin/env bash\n"
        'stress=$(pgrep -P "$PPID" -x stress-ng)\n'
        f'echo "make $* stress=$stress workers=$(pgrep -P "$stress" | wc -l)" >> {notes}\n'
        f"code=$(head -n 1 {codes}); sed -i 1d {codes}\n"
        'if [ "$code" = hang ]; then exec sleep 60; fi\n'
        'exit "$code"\n'
    )
    (shim / "make").chmod(0o755)
    return {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}", "STRESS_RUNS": str(runs)}


def _stress_pids(notes: list[str]) -> set[int]:
    return {int(line.split("stress=")[1].split()[0]) for line in notes}


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _hanging(session: int) -> bool:
    """The stand-in `make` has exec'd its `sleep 60` (its session is the script's)."""
    return subprocess.run(["pgrep", "-s", str(session), "-x", "sleep"], capture_output=True).returncode == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "stress-ng" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")


def test_make_test_runs_three_times_under_one_stress_ng_on_every_core_then_it_stops(tmp_path):
    result, notes = run_with_fake_make(tmp_path, [0, 0, 0], runs=3)
    assert result.returncode == 0, result.stderr
    assert len(notes) == 3 and all(n.startswith("make --no-print-directory test stress=") for n in notes), notes
    (stress,) = _stress_pids(notes)  # one stress-ng for all runs, started by the script itself
    assert {int(n.rsplit("workers=", 1)[1]) for n in notes} == {len(os.sched_getaffinity(0))}
    assert not _alive(stress)
    assert result.stdout.splitlines()[-1] == "test-stress: make test passed 3 times in a row under load"


def test_a_failed_run_stops_the_loop_and_stress_ng(tmp_path):
    result, notes = run_with_fake_make(tmp_path, [0, 2, 0], runs=3)
    assert result.returncode == 1
    assert len(notes) == 2
    assert "test-stress: run 2 of 3 of make test FAILED under load" in result.stderr
    assert not any(_alive(pid) for pid in _stress_pids(notes))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "terminated"])
def test_an_interrupted_run_stops_stress_ng(tmp_path, signum):
    """Ctrl-C reaches the terminal's whole process group; a CI runner's cancel sends SIGTERM to the script."""
    env = fake_make(tmp_path, [0, "hang", 0], runs=3)
    notes = tmp_path / "notes"
    # As from a terminal: SIGINT at its default. A suite started as a background job (`make test &`,
    # nohup) inherits SIGINT ignored, and a shell cannot undo an ignored signal it started with, so
    # Ctrl-C would reach nobody and the hanging run would just end.
    script = subprocess.Popen(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        preexec_fn=_default_interrupt,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        # The second run is hanging once its `sleep` runs: a signal sent earlier (while the stand-in
        # still reads its exit code) would test the stand-in, not the script.
        while not (notes.exists() and len(notes.read_text().splitlines()) == 2 and _hanging(script.pid)):
            assert script.poll() is None and time.monotonic() < deadline, "the second run never started"
            time.sleep(0.1)
        (stress,) = _stress_pids(notes.read_text().splitlines())
        if signum == signal.SIGINT:
            os.killpg(script.pid, signum)
        else:
            script.send_signal(signum)
        assert script.wait(timeout=120) != 0
        assert not _alive(stress)
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
        # The fake make's sleep outlives a SIGTERM to the script alone (as make would); stop it here.
        subprocess.run(["pkill", "-KILL", "-s", str(script.pid)], check=False)


def test_make_test_stress_runs_the_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "\ntest-stress: install ## " in makefile
    assert "\tSTRESS_RUNS=$(STRESS_RUNS) bash .ci/test-stress\n" in makefile

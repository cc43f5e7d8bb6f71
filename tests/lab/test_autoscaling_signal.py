"""Under a bounded 2x load step from tritonclient against a model with a known service
time, every rendered autoscaling trigger (queue time, pending requests) rises above its ScaledObject
threshold and falls back below it after the load stops. The speed is a benchmark figure
(benchmarks/lab_reaction_time.py), not asserted here beyond the bound of the wait."""

from __future__ import annotations

from pathlib import Path

from support.lab import reaction
from support.lab.emulators import Storage
from support.lab.triton import TritonInstall


def test_every_rendered_trigger_crosses_its_threshold_and_falls_back(
    renders, storage: Storage, lab_dir: Path, triton_install: TritonInstall
) -> None:
    chosen = reaction.scenarios(renders)
    covered = {name for sc in chosen for name in sc.covers}
    rendered = {
        f"{stack}/{so['metadata']['name']}/{t['name']}"
        for stack, render in renders.items()
        for so, t in reaction.obs.scaled_object_triggers(render)
        if t["name"] in ("queue-time", "pending-requests")
    }
    assert covered == rendered and rendered, f"not measured: {rendered - covered}"
    results = reaction.measure(chosen, storage=storage, workdir=lab_dir / "reaction", install=triton_install)
    for m in results:
        print(
            f"{m.covers}: {m.trigger} level {m.level:.1f} (threshold {m.threshold:g}, {m.clients} clients): "
            f"crossed after {m.detection_seconds} s, back below {m.fall_seconds} s after the stop; "
            f"estimate {m.estimate_detection_seconds} s"
        )
        assert m.overload and m.overload > 1.2, (
            f"{m.covers}: the step reached only {m.level} vs threshold {m.threshold}"
        )
        assert m.detection_seconds is not None, f"{m.covers}: never crossed {m.threshold}: {m.samples[-10:]}"
        assert m.fall_seconds is not None, f"{m.covers}: did not fall back below {m.threshold} after the load stopped"

"""A disk-full episode under load: what is lost, and how soon the daemon works again.

The daemon's data dir is a tmpfs of its own; a client posts the simulator's change events
through the socket all along (what is refused it sends again later). After a warm-up the
tmpfs is filled to its last byte, held full for ``--fault-seconds``, then freed. Reported:

- acknowledged-missing: units with an acknowledged event never hydrated after it
  (target 0), also after a restart;
- resume latency: from freeing the space to the daemon writing again (target <= 5 s),
  as a ratio of the target;
- the refusals (507/503 with a reason), dead letters (target 0), task restarts.

Needs root (it mounts a tmpfs). The default episode is short; the target episode is
10 minutes:

    .venv/bin/python bench/diskfull_bench.py [--fault-seconds 600] [--tmpfs-size 48m]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.diskfull import MountRefused, run_episode  # noqa: E402

#: processing must resume within this long of space returning
RESUME_TARGET_SECONDS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fault-seconds", type=float, default=10.0, help="how long it is full")
    parser.add_argument("--tmpfs-size", default="48m", help="the data dir's tmpfs")
    parser.add_argument("--world-size", type=int, default=300, help="simulated entities")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "diskfull.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mds-diskfull-") as workdir:
        try:
            report = run_episode(
                Path(workdir),
                fault_seconds=args.fault_seconds,
                tmpfs_size=args.tmpfs_size,
                world_size=args.world_size,
            )
        except MountRefused as exc:
            sys.exit(f"diskfull_bench needs a tmpfs of its own (run as root): {exc}")
    result = report.to_json()
    resume = report.resume_seconds
    result["resume_vs_target"] = (
        None if resume is None else round(resume / RESUME_TARGET_SECONDS, 2)
    )
    result["problems"] = report.problems(RESUME_TARGET_SECONDS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"disk full for {args.fault_seconds:g}s under load ({args.tmpfs_size} tmpfs)")
    print(
        f"acknowledged {report.acknowledged:,} events; refused {dict(report.refused)} "
        f"(other answers {dict(report.other_answers) or 'none'})"
    )
    print(
        f"acknowledged-missing {len(report.missing)} (target 0), "
        f"after a restart {len(report.missing_after_restart)}; "
        f"dead letters {report.dead_letters}; task restarts {report.task_restarts}"
    )
    print(
        f"resumed {resume}s after space returned: {result['resume_vs_target']}x the "
        f"{RESUME_TARGET_SECONDS:g}s target"
    )
    if report.refusal_reasons:
        print(f"a refusal said: {report.refusal_reasons[0]}")
    print("targets met" if not result["problems"] else f"MISSED: {result['problems']}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

"""Digests of a full sync plan (dry run), to check that a change to extract, translate or plan leaves the plan as it
was: run it before and after on the same seeded org and compare the lines it prints.

    uv run python bench/plan_digest.py DIR

DIR: a sandbox org seeded once (e.g. by `bench/plan_scale_bench.py --dir DIR`). Digested: every operation (key,
action, reason, content hash, primaries, kind, record, known id and hash, also-records, what it depends on), every
failure (primary, record and field at fault, message), the primaries' keys, the line prices and the lines' known ids.
Also prints the peak RSS and the plan's CPU seconds (figures for a quick look; `plan_scale_bench.py` measures).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from typing import Any


def _digest(rows: Any) -> str:
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def main() -> None:
    os.environ["CPQ_SYNC_SANDBOX"] = sys.argv[1]
    from cpq_sync.config import load_settings
    from cpq_sync.sync import Mode, extract, make_plan, prepare, window_for

    ctx = prepare(load_settings())
    extracted = extract(ctx, window_for(ctx, Mode.FULL))
    cpu = time.process_time()
    plan = make_plan(ctx, extracted)
    plan_cpu = time.process_time() - cpu
    operations = []
    for key in sorted(plan.operations):
        op = plan.operations[key]
        d = op.desired
        operations.append(
            [
                key,
                op.action.value,
                op.reason,
                op.content_hash,
                sorted([p.object_type, p.id] for p in d.primaries),
                d.kind.value,
                [d.record.object_type, d.record.id],
                d.known_id,
                d.known_hash,
                [[r.object_type, r.id] for r in d.also_records],
                sorted(d.depends_on),
            ]
        )
    failures = [
        [f.primary.object_type, f.primary.id, f.error.object_type, f.error.record_id, f.error.field, f.error.message]
        for f in plan.failures
    ]
    primaries = sorted([p.object_type, p.id, sorted(keys)] for p, keys in plan.primaries.items())
    print(
        json.dumps(
            {
                "operations": len(plan.operations),
                "failures": len(plan.failures),
                "lines": ctx.planned_lines,
                "operations_digest": _digest(operations),
                "failures_digest": _digest(failures),
                "primaries_digest": _digest(primaries),
                "line_prices_digest": _digest(sorted(plan.line_prices.items())),
                "line_known_digest": _digest(sorted([k, *v] for k, v in plan.line_known.items())),
            },
            indent=1,
        )
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = ctx.planned_lines / max(plan_cpu, 1e-9)
    print(f"peak RSS {peak:.0f} MB; translate and plan {plan_cpu:.2f} CPU s ({rate:,.0f} lines a CPU second)")


if __name__ == "__main__":
    main()

"""``styleface generate --cluster ray[:ADDRESS]``: the command line's side of ``generate_on_ray``."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .address import import_ray, parse_cluster


def generate_on_cluster(args: argparse.Namespace, seeds: list[int], formats: Sequence[str],
                        expression: dict[str, float] | None, reference_yaws: list[float] | None) -> int:
    """Run the job, print a summary and one line per failed face; 0 when every face is complete."""
    address = parse_cluster(args.cluster)
    import_ray()  # the install hint before any work
    from .driver import generate_on_ray

    options = {"truncation": args.truncation, "expression": expression,
               "expression_from_seed": args.expression_from_seed,
               "expression_strength": args.expression_strength,
               "displacement_strength": args.displacement_strength}
    device = args.device
    report = generate_on_ray(seeds, args.out, bundle=args.bundle, device=device, formats=formats, options=options,
                             batch_size=args.batch_size, address=address, texture_size=args.texture_size,
                             bake_displacement=args.bake_displacement, reference_yaws=reference_yaws,
                             progress=not args.quiet and len(seeds) > 1)
    for seed, reason in sorted(report.failed.items()):
        print(f"styleface: face {seed} failed: {reason}", file=sys.stderr)
    if not args.quiet:
        print(f"{len(report.done)} face(s) written, {report.skipped} already complete, {len(report.failed)} failed, "
              f"to {report.out} on Ray ({report.workers} worker(s), {report.actor_restarts} replaced) "
              f"in {report.seconds:.1f} s" + ("" if args.no_contact_sheet else "; no contact sheet on a cluster"))
    if report.failed:
        print(f"styleface: {len(report.failed)} face(s) failed; run the same command again to retry them",
              file=sys.stderr)
        return 1
    return 0

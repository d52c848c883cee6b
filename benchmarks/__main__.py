"""`python -m benchmarks [--quick|--tiny] [--only NAME] [--json PATH] [--update-docs]`."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from rich.console import Console

from benchmarks.context import BenchContext, add_mlflow_arguments, mlflow_from_arguments
from benchmarks.harness import BenchResult
from benchmarks.report import machine_info, markdown, print_results, update_docs, write_json

# Run order: cheapest first, so a quick run shows something early.
BENCHMARKS = ("store_path", "detail_read", "workflow", "repair", "listing", "provenance",
              "verify", "legacy_scale")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI-sized check)")
    parser.add_argument("--tiny", action="store_true",
                        help="the structural test's sizes: checks that everything runs, "
                             "numbers mean nothing")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, metavar="NAME",
                        help=f"run only these (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", type=Path, help="write results here "
                        "(default: benchmarks/results/<mode>-<timestamp>.json)")
    parser.add_argument("--update-docs", action="store_true",
                        help="rewrite the results block of docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    add_mlflow_arguments(parser)
    args = parser.parse_args(argv)
    args.mlflow = mlflow_from_arguments(parser, args)
    if args.tiny and args.update_docs:
        parser.error("--tiny numbers mean nothing: not with --update-docs")
    return args


def run_one(name: str, ctx: BenchContext, console: Console) -> BenchResult:
    """Run one benchmark; a failure becomes an error row, never a crash of the whole run."""
    console.print(f"[bold]{name}[/bold] ({ctx.mode}) ...")
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        result = module.run(ctx)
    except ImportError as exc:  # the module it measures is not written yet
        result = BenchResult(name, name, error=f"not available: {exc}")
    except Exception as exc:
        console.print(traceback.format_exc(), style="dim")
        result = BenchResult(name, name, error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Wide tables when piped (CI logs); MLflow's "View run" lines would only add noise
    # (and an extra get_run per finished run).
    console = Console(width=None if sys.stdout.isatty() else 150)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.getLogger("provenant").setLevel(logging.WARNING)
    names = [n for n in BENCHMARKS if not args.only or n in args.only]
    workdir = Path(tempfile.mkdtemp(prefix="provenant-bench-"))
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    ctx = BenchContext(mode=mode, workdir=workdir, mlflow=args.mlflow)
    machine = machine_info(ctx.postgres_version())
    results: list[BenchResult] = []
    try:
        for name in names:
            results.append(run_one(name, ctx, console))
    finally:
        ctx.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    mode = ctx.mode
    print_results(console, results)
    path = write_json(results, machine, mode, args.json)
    console.print(f"JSON: {path}")
    if args.update_docs:
        update_docs(markdown(results, machine, mode, path))
        console.print("docs/benchmarks.md updated")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

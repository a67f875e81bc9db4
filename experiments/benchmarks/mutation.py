"""Mutation check: do the tests catch a broken GAN algorithm?

Each entry of :data:`CATALOGUE` (in :mod:`mutation_catalogue`) is one deliberate, realistic bug — a sign flipped, a
label swapped, a ``detach`` missing, a term's weight zeroed, a player never stepped, augmentation on one side only,
a fade-in reversed, a penalty scaled by the wrong interval, a condition ignored — written as a text substitution
(a snippet that must occur exactly once in its file, and its replacement) with the tests that must catch it.

The runner copies the package, its tests and what they read (``lit_gans/``, ``tests/``, ``experiments/`` without
results images, ``docs/``, ``README.md``, ``pyproject.toml``) to a temporary directory per worker, checks that the
named tests pass there unmutated (the baseline: a mutant is only "killed" by tests that pass on the real code),
then for each mutant writes the mutated file, runs all its tests with ``PYTHONPATH`` pointing at the copy
and restores the file. A mutant is *killed* when its tests fail, *survives* when they pass, and is a *timeout* (neither)
when they run past ``--timeout``; a snippet that is not found exactly once stops the run with an error naming the
mutant (the catalogue went stale).

    python experiments/benchmarks/mutation.py                      # every mutant, 2 workers
    python experiments/benchmarks/mutation.py --only seqgan_reward_sign cyclegan_adv_zeroed
    python experiments/benchmarks/mutation.py --list               # the catalogue as a Markdown table

    python experiments/benchmarks/mutation.py --only <id> --merge  # re-run one mutant into the existing report
    python experiments/benchmarks/mutation.py --combine a.json b.json  # one report from several partial runs

Writes ``experiments/results/mutation.json`` (``--out``): ``mutants``, ``killed``, ``survivors`` (ids), ``runs`` (each
run's command, baseline and seconds) and per mutant its file, description, tests, status, the failing tests and
seconds; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mutation_catalogue import CATALOGUE, Mutant

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "results"
#: what a copy holds: the package, the tests and the files the tests read
COPIED = ("lit_gans", "tests", "experiments", "docs", "README.md", "pyproject.toml")


class CatalogueError(RuntimeError):
    """A mutant's snippet is not in its file exactly once: the code changed under the catalogue."""


def mutated_text(text: str, mutant: Mutant) -> str:
    """``text`` with the mutant's snippet replaced; raises :class:`CatalogueError` unless it occurs exactly once."""
    count = text.count(mutant.old)
    if count != 1:
        raise CatalogueError(f"mutant {mutant.id}: the snippet {mutant.old!r} occurs {count} times in {mutant.file} "
                             f"(must be exactly once): update the catalogue")
    return text.replace(mutant.old, mutant.new)


def check_catalogue(root: Path = ROOT, mutants=CATALOGUE) -> None:
    """Fails loudly before any test runs: unique ids, every snippet found once, every test file present."""
    ids = [m.id for m in mutants]
    if len(ids) != len(set(ids)):
        raise CatalogueError(f"duplicate mutant ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    for m in mutants:
        mutated_text((root / m.file).read_text(), m)
        for test in m.tests:
            path = test.split("::")[0]
            if not (root / path).exists():
                raise CatalogueError(f"mutant {m.id}: test file {path} does not exist")


def make_copy(dest: Path) -> Path:
    """A copy of what the tests need, without caches and result images."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.png", "*.ckpt", ".pytest_cache")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def run_tests(copy: Path, tests: list[str], select: str | None, timeout: float) -> tuple[int | None, str, float]:
    """(pytest exit code or None on timeout, its output, seconds) for the tests in the copy."""
    env = {**os.environ, "PYTHONPATH": str(copy), "WANDB_MODE": "offline"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *tests]
    if select:
        cmd += ["-k", select]
    start = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
        return out.returncode, out.stdout + out.stderr, time.perf_counter() - start
    except subprocess.TimeoutExpired as e:
        return None, str(e.stdout or ""), time.perf_counter() - start


def failed_tests(output: str) -> list[str]:
    """The node ids pytest reports as FAILED or ERROR in its short summary."""
    return sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)))


def run_mutant(copy: Path, mutant: Mutant, timeout: float) -> dict:
    """Applies one mutant in the copy, runs its tests, restores the file; the mutant's record."""
    path = copy / mutant.file
    original = path.read_text()
    path.write_text(mutated_text(original, mutant))
    try:
        code, output, seconds = run_tests(copy, list(mutant.tests), mutant.select, timeout)
    finally:
        path.write_text(original)
    if code is None:
        status = "timeout"  # neither killed nor survived: on a loaded machine a slow test; re-run with a longer --timeout
    elif code == 0:
        status = "survived"
    elif code in (1, 2, 3):  # tests failed, collection/interruption errors, internal error
        status = "killed"
    else:  # 4 usage error, 5 no tests collected: the catalogue names tests that do not exist
        raise CatalogueError(f"mutant {mutant.id}: pytest exit code {code} (tests not found?):\n{output[-1500:]}")
    return {"id": mutant.id, "file": mutant.file, "description": mutant.description, "tests": list(mutant.tests),
            "select": mutant.select, "status": status, "timed_out": code is None, "exit_code": code,
            "failed": failed_tests(output), "seconds": round(seconds, 1)}


def baseline(copy: Path, mutants: list[Mutant], timeout: float) -> dict:
    """Runs every named test on the unmutated copy; they must all pass, or no kill means anything."""
    records = []
    groups: dict[str | None, list[str]] = {}
    for m in mutants:
        groups.setdefault(m.select, [])
        groups[m.select] += [t for t in m.tests if t not in groups[m.select]]
    for select, tests in groups.items():
        code, output, seconds = run_tests(copy, tests, select, timeout * len(tests))  # one timeout per test
        records.append({"tests": tests, "select": select, "exit_code": code, "seconds": round(seconds, 1),
                        "failed": failed_tests(output)})
        if code != 0:
            raise CatalogueError(f"the unmutated code fails its tests ({tests}, -k {select}):\n{output[-3000:]}")
    return {"passed": True, "seconds": round(sum(r["seconds"] for r in records), 1)}


def markdown(records: list[dict]) -> str:
    rows = ["| mutant | file | bug | caught by | result | s |", "|---|---|---|---|---|---|"]
    for r in records:
        caught = ", ".join(f"`{t.split('::')[-1]}`" for t in r["failed"]) if r["status"] == "killed" else "—"
        rows.append(f"| `{r['id']}` | {r['file']} | {r['description']} | {caught} | {r['status']} | {r['seconds']} |")
    return "\n".join(rows)


def catalogue_table(mutants: list[Mutant]) -> str:
    rows = ["| mutant | file | bug | tests |", "|---|---|---|---|"]
    for m in mutants:
        tests = ", ".join(f"`{t}`" for t in m.tests) + (f" -k `{m.select}`" if m.select else "")
        rows.append(f"| `{m.id}` | {m.file} | {m.description} | {tests} |")
    return "\n".join(rows)


def write_report(out: Path, records: list[dict], previous: dict | None, command: str, base: dict | None,
                 workers: int, start: float, complete: bool) -> dict:
    """Writes the JSON report (merged into ``previous`` for a partial re-run) and returns it."""
    runs = [{"command": command, "baseline": base, "workers": workers, "ids": [r["id"] for r in records],
             "complete": complete, "seconds": round(time.perf_counter() - start, 1)}]
    if previous is not None:  # a partial re-run replaces those mutants in the report
        fresh = {r["id"] for r in records}
        records = [r for r in previous["details"] if r["id"] not in fresh] + records
        runs = previous.get("runs", []) + runs
    return save(out, records, runs)


def save(out: Path, records: list[dict], runs: list[dict]) -> dict:
    """Writes the report of ``records`` in catalogue order: counts, survivors, score, the runs, the details."""
    order = {m.id: i for i, m in enumerate(CATALOGUE)}
    records = sorted(records, key=lambda r: order.get(r["id"], len(order)))
    for r in records:  # a run past its timeout proves nothing either way (reports written before this rule included)
        r["status"] = "timeout" if r.get("timed_out") else r["status"]
    killed = sum(r["status"] == "killed" for r in records)
    report = {"catalogue": len(CATALOGUE), "mutants": len(records), "killed": killed,
              "survivors": [r["id"] for r in records if r["status"] == "survived"],
              "timeouts": [r["id"] for r in records if r["status"] == "timeout"],
              "not_run": [m.id for m in CATALOGUE if m.id not in {r["id"] for r in records}],
              "score": round(killed / max(1, len(records)), 3), "runs": runs, "details": records}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def combine(reports: list[dict], out: Path) -> dict:
    """One report from several runs' reports (e.g. a run stopped early and a run of the mutants it did not reach)."""
    records: dict[str, dict] = {}
    for report in reports:
        for record in report["details"]:
            records.setdefault(record["id"], record)
    return save(out, list(records.values()), [run for report in reports for run in report.get("runs", [])])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", metavar="ID", help="run these mutants only")
    parser.add_argument("--workers", type=int, default=2, help="mutants run in parallel, each in its own copy")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest run")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run (for quick trials only)")
    parser.add_argument("--merge", action="store_true",
                        help="with --only: replace those mutants in the existing --out report instead of a new report")
    parser.add_argument("--combine", nargs="+", type=Path, metavar="REPORT",
                        help="write --out from these reports (a mutant's record from the first report that has it)")
    parser.add_argument("--baseline-only", action="store_true",
                        help="only run the named tests on the unmutated code; its record joins --out's runs")
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--out", type=Path, default=RESULTS / "mutation.json")
    args = parser.parse_args(argv)
    if args.combine:
        report = combine([json.loads(path.read_text()) for path in args.combine], args.out)
        print(markdown(report["details"]))
        print(f"\n{report['killed']} of {report['mutants']} mutants killed; survivors: {report['survivors'] or 'none'}; "
              f"timeouts: {report['timeouts'] or 'none'}; not run: {report['not_run'] or 'none'}")
        return
    mutants = [m for m in CATALOGUE if not args.only or m.id in args.only]
    if args.only and len(mutants) != len(set(args.only)):
        parser.error(f"unknown mutant ids: {sorted(set(args.only) - {m.id for m in CATALOGUE})}")
    check_catalogue(mutants=mutants)
    if args.list:
        print(catalogue_table(mutants))
        return
    start = time.perf_counter()
    command = "python experiments/benchmarks/mutation.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    if args.baseline_only:
        with tempfile.TemporaryDirectory(prefix="lit_gans_mutation_") as tmp:
            base = baseline(make_copy(Path(tmp)), mutants, args.timeout)
        previous = json.loads(args.out.read_text()) if args.out.exists() else {"details": [], "runs": []}
        run = {"command": command, "baseline": base, "seconds": round(time.perf_counter() - start, 1)}
        save(args.out, previous["details"], previous.get("runs", []) + [run])
        print(f"the unmutated code passes the {len(mutants)} mutants' tests ({base['seconds']} s)")
        return
    previous = json.loads(args.out.read_text()) if args.only and args.merge and args.out.exists() else None
    with tempfile.TemporaryDirectory(prefix="lit_gans_mutation_") as tmp:
        copies = [make_copy(Path(tmp) / f"worker{i}") for i in range(max(1, args.workers))]
        records: list[dict] = [{}] * len(mutants)
        lock = threading.Lock()

        def work(worker: int) -> None:
            for i in range(worker, len(mutants), len(copies)):
                records[i] = run_mutant(copies[worker], mutants[i], args.timeout)
                print(f"{mutants[i].id}: {records[i]['status']} ({records[i]['seconds']} s)", flush=True)
                with lock:  # the report so far, so that a run stopped early still leaves its results
                    done = base is not None and base.done() and base.exception() is None
                    write_report(args.out, [r for r in records if r], previous, command,
                                 base.result() if done else None, len(copies), start, complete=False)

        with ThreadPoolExecutor(len(copies) + 1) as pool:
            # the baseline runs beside the mutants, in a copy of its own that is never mutated
            base = None if args.no_baseline else pool.submit(baseline, make_copy(Path(tmp) / "baseline"), mutants,
                                                             args.timeout)
            list(pool.map(work, range(len(copies))))
            base = base.result() if base is not None else None  # raises if the unmutated code fails its tests
    report = write_report(args.out, records, previous, command, base, len(copies), start, complete=True)
    records = report["details"]
    print(markdown(records))
    print(f"\n{report['killed']} of {report['mutants']} mutants killed; this run took {report['runs'][-1]['seconds']} s; "
          f"survivors: {report['survivors'] or 'none'}; timeouts: {report['timeouts'] or 'none'}")


if __name__ == "__main__":
    main()

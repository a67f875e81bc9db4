"""The mutation check (experiments/benchmarks/mutation.py): the catalogue still matches the code, and the runner kills
a mutant its tests catch."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments" / "benchmarks"))
import mutation  # noqa: E402
from mutation_catalogue import CATALOGUE, Mutant  # noqa: E402


def test_every_snippet_is_in_its_file_exactly_once():
    """Fails when the code changes under a mutant: update its snippet (docs/testing.md)."""
    mutation.check_catalogue()
    assert len(CATALOGUE) >= 30


def test_every_named_test_exists():
    """A renamed or removed test would make the runner stop mid-way ("tests not found"): each ``file::name`` a mutant
    names must be a test function defined in that file (parameters in brackets aside)."""
    root = Path(mutation.ROOT)
    missing = []
    for m in CATALOGUE:
        for node in m.tests:
            if "::" not in node:
                continue
            file, name = node.split("::", 1)
            if f"def {name.split('[')[0]}(" not in (root / file).read_text():
                missing.append(f"{m.id}: {node}")
    assert missing == []


def test_a_snippet_found_twice_or_never_is_an_error():
    twice = Mutant("x", "f.py", "a = 1", "a = 2", "", ())
    with pytest.raises(mutation.CatalogueError, match="occurs 2 times"):
        mutation.mutated_text("a = 1\na = 1\n", twice)
    with pytest.raises(mutation.CatalogueError, match="occurs 0 times"):
        mutation.mutated_text("b = 1\n", twice)
    assert mutation.mutated_text("a = 1\nb = 1\n", twice) == "a = 2\nb = 1\n"


def test_runner_kills_a_caught_mutant_and_writes_the_report(tmp_path):
    out = tmp_path / "mutation.json"
    mutation.main(["--only", "loss_hinge_fake_sign", "--workers", "1", "--out", str(out)])
    report = json.loads(out.read_text())
    assert (report["mutants"], report["killed"], report["survivors"]) == (1, 1, [])
    assert report["runs"][0]["baseline"]["passed"] and report["details"][0]["failed"] == ["tests/test_losses.py::test_hinge_losses"]
    assert (Path(mutation.ROOT) / "lit_gans" / "losses.py").read_text().count("F.relu(1.0 + fake_logits)") == 1

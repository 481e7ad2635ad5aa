"""benchmarks/resume.py runs end to end with tiny sizes and prints its tables.

(The figures themselves are never asserted on: they are the benchmark's to report.)
"""

from __future__ import annotations

from tests.benchmarks._bench import run_benchmark, table


def test_the_resume_benchmark_prints_its_tables() -> None:
    arguments = ["--params", "0.05", "--rounds", "1", "--warmup", "0", "--positions", "2,20", "--items", "0"]
    done = run_benchmark("resume.py", *arguments, "--environment-as-is")
    lines = done.stdout.splitlines()
    resume = table(lines, "| split |")
    assert [row[0] for row in resume[2:]] == [
        "imports (interpreter start included)",
        "model, optimizer and data built",
        "load (cadence: `Checkpoint.resume`; raw: `torch.load` + `load_state_dict`)",
        "data positioned, first batch in hand",
        "first step (forward, backward, Adam)",
        "**process start to first trained step**",
        "cadence / raw, per round",
    ]
    assert {len(row) for row in resume} == {3}
    positioning = table(lines, "| data |")
    assert positioning[0] == ["data", "at batch 2", "at batch 20"]
    assert positioning[2][0] == "cadence `reproducible_dataloader`"
    assert positioning[-1][0] == "plain `DataLoader` (re-read)"
    assert not any(line.startswith("dataset of") for line in lines)  # --items 0: no long epoch

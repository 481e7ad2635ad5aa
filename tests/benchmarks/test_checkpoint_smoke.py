"""benchmarks/checkpoint.py runs end to end with tiny sizes and prints its tables, and nothing else.

(The figures themselves are never asserted on: they are the benchmark's to report.)
"""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._bench import run_benchmark, table


def test_the_checkpoint_benchmark_prints_its_tables_and_nothing_else(tmp_path: Path) -> None:
    arguments = ["--params", "0.05", "--saves", "2", "--rounds", "1", "--every", "2", "--disk-rounds", "2"]
    done = run_benchmark("checkpoint.py", *arguments, "--folder", str(tmp_path))
    assert done.stderr == ""  # no warning (DCP's "single process" one included)
    lines = done.stdout.splitlines()
    saves = table(lines, "| save |")
    assert len(saves) == 2 + 6 and {len(row) for row in saves} == {6}
    disk = table(lines, "| write |")
    assert [row[0] for row in disk[2:]] == [
        "plain file writes (`os.write`) + fsync: the disk's limit",
        "`torch.save` to a file + fsync (with its CRC-32s)",
        "DCP `save`, `FileSystemWriter(sync_files=True)`",
        "cadence `Checkpoint`, `DiskSaver`, synchronous",
        "cadence `Checkpoint`, `ShardedDiskSaver` (DCP), synchronous",
    ]
    assert {len(row) for row in disk} == {4}
    assert disk[2][2] == "100% (100%-100%)"  # the plain writes against themselves
    assert any(line.startswith("Checksums:") for line in lines)

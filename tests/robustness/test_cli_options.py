"""Every CLI option is validated: a bad value is one line on stderr and exit status 2, before any model
loads or file is written; huge seed ranges are iterated, never listed."""
from __future__ import annotations

import tracemalloc

import pytest

from styleface import cli
from styleface.seeds import parse_seed_ranges

G = ["generate", "--bundle", "procedural", "--no-contact-sheet", "--quiet"]
BAD = [
    ["--displacement-strength", "1e308"], ["--displacement-strength", "-1"], ["--displacement-strength", "nan"],
    ["--displacement-strength", "inf"], ["--expression-strength", "1e30"], ["--expression-strength", "nan"],
    ["--expression", "smile_left=1e30"], ["--expression", "smile_left=nan"], ["--expression", "smile_left=inf"],
    ["--expression", "=1"], ["--expression", "x" * 100 + "=1"],
    ["--expression-from-seed", str(2**63)], ["--expression-from-seed", "-1"], ["--expression-from-seed", "1_0"],
    ["--expression-from-seed", "\u0661"], ["--seeds", "1_000"], ["--seeds", "\u0661\u0662"], ["--seeds", "0x10"],
    ["--seeds", f"0-{2**63}"], ["--seeds", "0-999999999999"], ["--seeds", "5-1"], ["--seeds", "-"], ["--seeds", ""],
    ["--seeds", ",".join(str(i) for i in range(2000))], ["--seeds", "1e3"], ["--seeds", " 1 - 2 - 3"],
    ["--seed", "-5"], ["--seed", "1.5"], ["--seed", str(2**63)], ["--seed", "\uff11"],
    ["--seed", str(2**63 - 1), "--count", "2"], ["--count", "0"], ["--count", "100000000000"],
    ["--texture-size", "4096"], ["--texture-size", "8"], ["--texture-size", "1e3"], ["--texture-size", "nan"],
    ["--batch-size", "0"], ["--batch-size", "4096"], ["--batch-size", "-1"],
    ["--truncation", "nan"], ["--truncation", "1e308"], ["--truncation", "-inf"],
    ["--reference-yaws", "nan"], ["--reference-yaws", "1e308"], ["--reference-yaws", ",".join(["1"] * 40)],
    ["--formats", "obj,exe"], ["--formats", ","], ["--device", "tpu"],
]


@pytest.mark.parametrize("args", BAD, ids=[" ".join(a)[:40] for a in BAD])
def test_bad_option_values_are_one_line_errors(args, tmp_path, capsys, tally):
    status = cli.main([*G, "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err.strip()
    ok = status == 2 and err.startswith("styleface: error:") and "\n" not in err and "Traceback" not in err
    ok = ok and not any((tmp_path / "out").glob("face_*"))
    tally.record("cli option", ok)
    assert ok, (status, err[-400:])


def test_huge_seed_ranges_are_iterated_not_listed(tally):
    tracemalloc.start()
    seeds = parse_seed_ranges("0-9999999,5-20,3")
    first = next(iter(seeds.batches(4)))
    n = len(seeds)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ok = n == 10_000_000 and first == [0, 1, 2, 3] and peak < 1 << 20 and seeds[-1] == 9_999_999
    tally.record("cli seed range", ok)
    assert ok, (n, first, peak)


def test_seed_ranges_keep_order_and_drop_duplicates():
    assert list(parse_seed_ranges("5-7,0-6,9")) == [5, 6, 7, 0, 1, 2, 3, 4, 9]
    assert list(parse_seed_ranges(f"{2**63 - 2}-{2**63 - 1}")) == [2**63 - 2, 2**63 - 1]


CAPPED_CLI = """
import resource, sys
from styleface import cli
from styleface.generation import ProceduralSource
ProceduralSource(texture_size=64).generate([0])  # torch, the face model and their mappings are in place
vm = next(int(l.split()[1]) << 10 for l in open("/proc/self/status") if l.startswith("VmPeak"))
cap = vm + (1 << 30)  # 1 GiB of headroom: a 64 px face fits, a 2048 px one (~1.7 GB) does not
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.skipif(__import__("sys").platform != "linux", reason="RLIMIT_AS and /proc probe")
@pytest.mark.parametrize("case", ["fits", "over-budget", "over-cap"])
def test_generate_under_a_memory_cap(tmp_path, case, tally):
    """Under an address-space cap of 1 GiB above what the process already maps: a small face is written;
    a texture over the budget is refused before work starts; one within the budget but over the cap
    ends in one line, not a traceback."""
    import os
    import subprocess
    import sys

    size = {"fits": "64", "over-budget": "2048", "over-cap": "2048"}[case]
    env = dict(os.environ, STYLEFACE_MAX_MEMORY_MB="1000" if case == "over-budget" else "8192")
    r = subprocess.run([sys.executable, "-c", CAPPED_CLI, *G, "--seeds", "0", "--texture-size", size,
                        "--formats", "json", "--out", str(tmp_path)], capture_output=True, text=True, env=env,
                       timeout=300)
    lines = r.stderr.strip().splitlines()
    if case == "fits":
        ok = r.returncode == 0 and (tmp_path / "face_000000.json").is_file()
    else:
        ok = (r.returncode == 2 and len(lines) == 1 and ("budget" if case == "over-budget" else "memory") in lines[0]
              and not (tmp_path / "face_000000.json").exists())
    tally.record("cli memory cap", ok)
    assert ok, (r.returncode, r.stderr[-500:])

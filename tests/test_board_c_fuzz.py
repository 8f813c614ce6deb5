"""The firmware's frame parser (runtime_c/protocol/ek_link.c) built for the host and fuzzed:
gcc with ASan/UBSan over random near-valid frames, and libFuzzer (clang) when installed, a
short run here (the longer run's figures are in docs/boards.md). Also: C and Python produce
the same bytes for the same frame."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edgekiln.boards.framing import FrameDecoder, encode_frame
import edgekiln.runtime_c

ROOT = Path(__file__).parent / "c"
RUNTIME = Path(edgekiln.runtime_c.__file__).parent
SANITIZE = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-Wall", "-Wextra", "-Werror",
            f"-I{RUNTIME / 'include'}"]


def _build(cc: str, out: Path, *sources: Path, extra: tuple[str, ...] = ()) -> Path:
    # make setup installs gcc and clang (scripts/setup.sh): a missing one is a failure, not a skip
    assert shutil.which(cc) is not None, f"{cc} not installed: run `make setup` (scripts/setup.sh installs it)"
    cmd = [cc, *SANITIZE, *extra, *map(str, sources), str(RUNTIME / "protocol" / "ek_link.c"), "-o", str(out)]
    if any(Path(src).name.startswith("ek_energyrunner") for src in sources):
        cmd[-3:-3] = [str(RUNTIME / "protocol" / "ek_energyrunner.c")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


def test_gcc_asan_random_frames(tmp_path):
    exe = _build("gcc", tmp_path / "fuzz", ROOT / "ek_link_fuzz.c", ROOT / "ek_link_fuzz_main.c")
    for seed in (1, 2):
        proc = subprocess.run([str(exe), "100000", str(seed)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert re.match(r"executions 100000 fitting \d+", proc.stdout)


def test_libfuzzer_short_run(tmp_path):
    exe = _build("clang", tmp_path / "libfuzz", ROOT / "ek_link_fuzz.c", extra=("-fsanitize=fuzzer",))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ping").write_bytes(encode_frame(0x02, 1, b"hello"))
    (corpus / "batch").write_bytes(encode_frame(0x04, 2, bytes(range(1, 80))))
    proc = subprocess.run([str(exe), "-max_total_time=8", "-rss_limit_mb=2048", str(corpus)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = re.search(r"Done (\d+) runs", proc.stderr)
    assert runs and int(runs.group(1)) > 10_000


def test_c_and_python_encode_identically(tmp_path):
    exe = _build("gcc", tmp_path / "enc", ROOT / "ek_link_encode.c")
    import random

    rng = random.Random(3)
    for n in [0, 1, 245, 246, 247, 250, 251, 500, 1000, 3000] + [rng.randrange(0, 2000) for _ in range(20)]:
        payload = bytes(rng.choice([0, rng.randrange(256)]) for _ in range(n))
        typ, seq = rng.randrange(256), rng.randrange(65536)
        out = subprocess.run([str(exe)], input=bytes([typ, seq & 0xFF, seq >> 8]) + payload, capture_output=True).stdout
        assert out == encode_frame(typ, seq, payload), n
        [frame] = FrameDecoder().feed(out)
        assert (frame.type, frame.seq, frame.payload) == (typ, seq, payload)


def test_libfuzzer_energyrunner_parser_short_run(tmp_path):
    """The EnergyRunner command parser (runtime_c/protocol/ek_energyrunner.c) under libFuzzer."""
    exe = _build("clang", tmp_path / "erfuzz", ROOT / "ek_energyrunner_fuzz.c",
                 extra=("-fsanitize=fuzzer", "-DEK_ER_MAX_ITERATIONS=100"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "run").write_bytes(b"db load 16%db 00112233445566778899aabbccddeeff%infer 3 1%results%")
    (corpus / "misc").write_bytes(b"name%profile%help%db print 4 2%timestamp%x%")
    proc = subprocess.run([str(exe), "-max_total_time=8", "-rss_limit_mb=2048", f"-dict={ROOT / 'ek_energyrunner.dict'}",
                           str(corpus)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = re.search(r"Done (\d+) runs", proc.stderr)
    assert runs and int(runs.group(1)) > 10_000

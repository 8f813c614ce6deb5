"""The simulator runners' shared process handling (targets/simulators/process.py), with
real processes: the per-sample time limit, the one-line hang and exit errors, and batch
figures spread over their samples. The QEMU hang with core states is in test_bad_input."""
from __future__ import annotations

import sys
import time

import pytest

from edgekiln.errors import SimulatorError
from edgekiln.targets import get_target
from edgekiln.targets.simulators.gvsoc import GvsocProcess
from edgekiln.targets.simulators.process import SimulatorProcess, per_sample
from edgekiln.targets.simulators.runner import QemuProcess

HOST = get_target("host")


def test_time_limit_is_base_plus_per_sample_unless_given():
    assert QemuProcess.time_limit(1000) == pytest.approx(60.0 + 0.05 * 1000)
    assert GvsocProcess.time_limit(10) == pytest.approx(60.0 + 5.0 * 10)
    assert QemuProcess.time_limit(10**6, timeout=3.0) == 3.0


def test_hang_is_stopped_with_the_runner_message():
    class Quick(SimulatorProcess):
        BASE_TIMEOUT_S, PER_SAMPLE_TIMEOUT_S = 0.5, 0.25
        HANG_ADVICE = "Pass a larger timeout."

    cmd = [sys.executable, "-c", "import time; print('EKREADY', flush=True); time.sleep(30)"]
    start = time.monotonic()
    with pytest.raises(SimulatorError, match=r"(?s)did not finish within 1 s on host \(hung firmware\?\); "
                                             r"it was stopped\. Pass a larger timeout\..*Last output:\nEKREADY"):
        Quick(HOST, cmd, 2, label="sim").run()
    assert time.monotonic() - start < 10


def test_own_session_stops_the_children_too():
    """GVSoC's launcher is a script that starts the simulator: the whole group must stop."""
    child = "import time; time.sleep(30)"
    cmd = [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"]
    start = time.monotonic()
    with pytest.raises(SimulatorError, match="hung firmware, or a core that never reached the barrier"):
        GvsocProcess(HOST, cmd, 0, timeout=1.0, label="gvsoc").run()
    assert time.monotonic() - start < 10  # communicate() would wait for the child's pipe otherwise


def test_non_zero_exit_shows_the_tail():
    cmd = [sys.executable, "-c", "import sys; print('EKERR trap on hart 3'); sys.exit(250)"]
    with pytest.raises(SimulatorError, match=r"host firmware exited with code 250\. Last output:\nEKERR trap on hart 3"):
        QemuProcess(HOST, cmd, 1).run(b"")
    assert QemuProcess(HOST, [sys.executable, "-c", "print(input())"], 1).run(b"EKIN 1\n") == "EKIN 1\n"


def test_batch_figures_spread_over_their_samples():
    ins, per_core = per_sample(5, 2, [10, 20, 7], [{0: 10, 1: 4}, {0: 20}, {0: 7}])
    assert ins == [5, 5, 10, 10, 7]
    assert per_core == [{0: 5, 1: 2}, {0: 5, 1: 2}, {0: 10}, {0: 10}, {0: 7}]

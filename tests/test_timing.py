"""trainables.timing and the trial's startup clock: per-trial peak memory and process start time from /proc."""

import subprocess
import sys
import time

import numpy as np
import pytest

from trainables.runtime.timing import PhaseTimer, peak_rss_mb, reset_peak_rss
from trainables.trial import process_start_time

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
def test_peak_rss_is_reset_for_each_trial():
    big = np.ones(40_000_000)  # 320 MB touched
    high = peak_rss_mb()
    del big
    PhaseTimer()  # a new trial's timer starts the count again from the current RSS
    assert high - peak_rss_mb() > 250


@linux_only
def test_reset_reports_whether_the_kernel_allowed_it():
    assert reset_peak_rss() is True


@linux_only
def test_process_start_time_is_when_the_process_began():
    before = time.time()
    code = "import time; from trainables.trial import process_start_time; print(process_start_time(), time.time())"
    started, now = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                             check=True).stdout.split())
    assert before - 1.0 <= started <= now  # /proc/stat's boot time has whole-second resolution

"""Run a command and print its peak resident memory (RSS) in bytes, as the last line.

    python bench/peak_rss.py COMMAND [ARGS...]

Why a process of its own: Linux carries a process's peak RSS over `exec`, so a child
forked from a large process (pytest, holding a 600,000-image set) reports at least
that process's RSS. Forked from this small one, the child's peak is its own.
"""

import os
import subprocess
import sys

if __name__ == "__main__":
    child = subprocess.Popen(sys.argv[1:])
    _, status, usage = os.wait4(child.pid, 0)
    print(usage.ru_maxrss * 1024)  # Linux reports kilobytes
    sys.exit(os.waitstatus_to_exitcode(status))

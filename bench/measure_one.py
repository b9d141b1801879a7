"""Run one command and print its wall time and peak RSS as a JSON line (used by harness)."""

from __future__ import annotations

import json
import sys

from harness import measure

if __name__ == "__main__":
    timeout = float(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1 :]
    result = measure(command, timeout)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    print()
    print(
        json.dumps(
            {
                "seconds": result.seconds,
                "peak_rss_mib": result.peak_rss_mib,
                "returncode": result.returncode,
            }
        )
    )

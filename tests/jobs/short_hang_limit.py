"""`python -m tests.jobs.short_hang_limit <canvas-ladok arguments>`: the CLI, with a scheduler
counted as hung (and /healthz degraded) after $HANG_SECONDS without a heartbeat instead of 5
minutes, so a test sees `serve` replace a hung scheduler in seconds. Only this process and
the web workers it forks read the shortened limit; the product's default is untouched."""

import datetime as dt
import os

from plugin.cli import main
from plugin.jobs import heartbeat

if __name__ == "__main__":
    heartbeat.DOWN_AFTER = dt.timedelta(seconds=float(os.environ["HANG_SECONDS"]))
    main()

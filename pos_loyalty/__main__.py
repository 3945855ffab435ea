"""``python -m pos_loyalty`` and the ``pos-loyalty`` command: a Ctrl-C while the program is
still loading ends it quietly, as one later does."""

from __future__ import annotations

import signal
import sys


def run() -> int:
    try:
        from .cli import main

        status = main()
    except KeyboardInterrupt:
        status = 130
    # Done, or stopped: a Ctrl-C now (Python is shutting down) must not end it another way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return status


if __name__ == "__main__":
    sys.exit(run())

"""``python -m pos_loyalty`` and the ``pos-loyalty`` command: a Ctrl-C while the program is
still loading ends it quietly, as one later does."""

from __future__ import annotations

import sys


def run() -> int:
    try:
        from .cli import main
    except KeyboardInterrupt:
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())

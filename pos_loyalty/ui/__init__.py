"""The cashier's screen: a Textual app over the service layer (``pos-loyalty ui``)."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import LoadedConfig


def run_app(loaded: LoadedConfig, *, intro: Sequence[str] = ()) -> int:
    """Run the till's screen until the cashier quits; ``intro`` lines are shown on the sign-in
    screen (the demo's PINs and hints). The exit status."""
    from .app import TillApp

    app = TillApp(loaded, intro=tuple(intro))
    app.run()
    return app.return_code or 0

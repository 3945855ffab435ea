"""pos-loyalty: offline-first customer loyalty for point-of-sale tills.

The host POS's Python API::

    import pos_loyalty

    with pos_loyalty.open_till("pos-loyalty.toml") as till:
        member = till.lookup(pos_loyalty.MemberRef(phone="06 1234 5678"))
        sale = till.earn(pos_loyalty.MemberRef(code=scanned), amount=2480)
        print(sale.to_json())

Every refusal raises a ``pos_loyalty.LoyaltyError`` whose message is the sentence to show.
Names are imported on first use, so ``import pos_loyalty`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"
TYPE_CHECKING = False  # typing is not imported at all: the command starts sooner

if TYPE_CHECKING:
    from typing import Any

    from .errors import LoyaltyError
    from .rules.earn import BasketLine
    from .service import MemberRef, Till

_LAZY = {
    "Till": "service",
    "MemberRef": "service",
    "BasketLine": "rules.earn",
    "LoyaltyError": "errors",
}
__all__ = ["BasketLine", "LoyaltyError", "MemberRef", "Till", "open_till"]


def open_till(config_path: str | None = None) -> Till:
    """The till described by a config file (default: $POS_LOYALTY_CONFIG, ./pos-loyalty.toml)."""
    from .config import load
    from .service import Till

    return Till.open(load(config_path))


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'pos_loyalty' has no attribute {name!r}")

"""What the screen says, without a screen: the wedge detector and the words of the panels."""

from __future__ import annotations

import datetime as dt

from pos_loyalty.printing import PrintStatus
from pos_loyalty.reports import QueueStatus
from pos_loyalty.rules.program import Tier
from pos_loyalty.rules.tiers import TierStatus
from pos_loyalty.ui.present import ago, status_line, tier_bar
from pos_loyalty.ui.wedge import WedgeDetector, card_in

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def burst(detector: WedgeDetector, text: str, start: float, gap: float) -> float:
    at = start
    for ch in text:
        detector.key(ch, at)
        at += gap
    return at


def test_a_scanners_burst_ending_in_enter_is_a_scan_and_a_hands_typing_is_not() -> None:
    wedge = WedgeDetector(max_gap=0.035)
    end = burst(wedge, "M1-HFB3-WG5K-FZZS-VRJ4-8", 0.0, 0.004)
    assert wedge.enter(end) == "M1-HFB3-WG5K-FZZS-VRJ4-8"
    end = burst(wedge, "M1-HFB3-WG5K-FZZS-VRJ4-8", 10.0, 0.120)  # a person, 120 ms a key
    assert wedge.enter(end) is None
    end = burst(wedge, "M1HF", 20.0, 0.004)  # too short for any code
    assert wedge.enter(end) is None


def test_a_pause_starts_a_new_burst_and_a_non_printing_key_breaks_one() -> None:
    wedge = WedgeDetector(max_gap=0.035)
    assert wedge.key("0", 0.0) is True
    assert wedge.key("6", 1.0) is True  # after a pause: a new burst
    assert wedge.key("1", 1.01) is False
    wedge.key(None, 1.02)  # an arrow key
    end = burst(wedge, "23456789", 1.03, 0.004)
    assert wedge.enter(end) == "23456789"  # only what came after it


def test_a_card_is_found_in_a_burst_after_what_a_hand_typed() -> None:
    assert card_in("06M1-HFB3") == ("06", "M1-HFB3")
    assert card_in("]Q1M1HFB3WG5K") == ("", "]Q1M1HFB3WG5K")
    assert card_in("0612345678") is None
    assert card_in("]Q1HELLO") is None


def test_the_tier_bar_fills_with_the_way_to_the_next_tier() -> None:
    bronze, silver = Tier("Bronze", 0), Tier("Silver", 500)
    assert tier_bar(TierStatus(bronze, 250, silver, 250), width=10) == (
        "[█████░░░░░] 250 points to Silver"
    )
    assert tier_bar(TierStatus(silver, 900, None, 0), width=4) == "[████] Silver: top tier"


def queue(**values: object) -> QueueStatus:
    fields: dict[str, object] = {
        "last_seq": 5,
        "acked_seq": 2,
        "unsynced": 3,
        "oldest_unsynced_at": None,
        "by_kind": {},
        "last_attempt_at": "2026-11-25T09:59:00Z",
        "last_error": None,
        "last_success_at": "2026-11-25T09:58:48Z",
        "online": True,
        "print": PrintStatus(0, None, "online", None, None),
    }
    fields.update(values)
    return QueueStatus(**fields)  # type: ignore[arg-type]


def test_the_status_line_says_each_state_in_words() -> None:
    line = status_line(queue(), None, "online", "Chris", "AMS-01 T1", NOW, hq=True)
    assert line == "ONLINE sync 1m ago  3 to HQ  Printer ok  Chris  AMS-01 T1"
    down = status_line(
        queue(online=False), "offline: HQ does not answer", "paper_out", "", "T1", NOW, hq=True
    )
    assert down.startswith("OFFLINE synced 1m ago") and "Printer NO PAPER" in down
    stuck = PrintStatus(12, None, "paper_out", None, None)
    worst = status_line(
        queue(online=False, unsynced=999, print=stuck),
        "offline",
        "paper_out",
        "Maria (mgr)",
        "AMS-01 T1",
        NOW,
        hq=True,
    )
    assert "Printer NO PAPER 12 slips" in worst
    assert len(worst) <= 78  # one line of an 80-column terminal, with its padding
    alone = status_line(queue(unsynced=8), None, "none", "Chris", "T1", NOW, hq=False)
    assert alone == "NO HQ (offline till)  No printer  Chris  T1"  # nothing goes "to HQ" here


def test_ago_counts_in_the_largest_unit() -> None:
    assert ago(None, NOW) == "never"
    assert ago("2026-11-25T09:59:48Z", NOW) == "12s"
    assert ago("2026-11-23T09:00:00Z", NOW) == "2d"

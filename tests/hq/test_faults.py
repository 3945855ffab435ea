"""The network between a till and HQ fails in every way a store's network does, through a
fault-injecting proxy on real TCP: nothing is lost, nothing counts twice."""

from __future__ import annotations

import pytest

from pos_loyalty.service import MemberRef
from sync.daemon import HQUnreachable, Syncer

ANNA = MemberRef(phone="0612345678")


def run(till, token: str, waits: list[float] | None = None, attempts: int = 5):
    sleeps = waits if waits is not None else []
    with Syncer(till.source, token=token, sleep=sleeps.append) as syncer:
        return syncer.push(attempts=attempts), syncer.pull()


def member_balance(hq, member_id: str) -> int:
    return hq.store.account(member_id)[1].balance


@pytest.mark.parametrize("fault", ["drop_request", "drop_reply", "truncate", "reset"])
def test_a_push_whose_request_or_reply_is_lost_is_retried_and_counts_once(
    make_synced_till, hq, proxy, fault
):
    till, token = make_synced_till(url=proxy.url)
    member = till.enroll("0612345678").member
    till.earn(ANNA, amount=10000)
    proxy.inject(fault)
    waits: list[float] = []
    pushed, _ = run(till, token, waits)
    assert pushed.acked_seq == 3 and till.queue().unsynced == 0
    assert len(waits) == 1  # one retry, after a backoff
    if fault in ("drop_reply", "truncate"):  # HQ had applied it: the retry finds it held
        assert (pushed.pushed, pushed.duplicates) == (0, 3)
    assert hq.store.event_count() == 3
    assert member_balance(hq, member.member_id) == 150


def test_a_reply_slower_than_the_timeout_is_retried(make_synced_till, hq, proxy):
    till, token = make_synced_till(url=proxy.url, timeout=0.3)
    member = till.enroll("0612345678").member
    proxy.inject("delay", seconds=1.0)
    pushed, _ = run(till, token)
    assert pushed.acked_seq == 2 and hq.store.event_count() == 2
    assert member_balance(hq, member.member_id) == 50


def test_hq_busy_with_retry_after_is_waited_for(make_synced_till, hq, proxy):
    till, token = make_synced_till(url=proxy.url)
    till.enroll("0612345678")
    proxy.inject("unavailable", times=2, seconds=3)
    waits: list[float] = []
    pushed, _ = run(till, token, waits)
    assert pushed.acked_seq == 2
    assert len(waits) == 2 and all(w >= 3 for w in waits)  # at least what HQ asked for


def test_hq_down_for_good_leaves_every_event_waiting_and_says_so(make_synced_till, hq, proxy):
    till, token = make_synced_till(url=proxy.url)
    till.enroll("0612345678")
    proxy.inject("drop_request", times=100)
    with pytest.raises(HQUnreachable, match="2 events wait to be sent"):
        run(till, token, attempts=3)
    queue = till.queue()
    assert (queue.acked_seq, queue.unsynced) == (0, 2)
    assert queue.last_error.startswith("HQ cannot be reached")
    assert hq.store.event_count() == 0


def test_the_proxy_holds_a_mode_written_to_its_control_file(hq, tmp_path, caplog):
    """The demo's HQ faults: down, slow, errors until `none`; a word it does not know is
    logged and changes nothing."""
    import time
    from urllib.parse import urlsplit

    import httpx

    from sync.fault_proxy import FaultProxy

    control = tmp_path / "hq-fault"
    control.write_text("errors\n")  # written before the start: holds from the start
    port = urlsplit(hq.base).port or 80
    with FaultProxy(("127.0.0.1", port), control_file=control, slow_seconds=0.5) as proxy:
        health = f"{proxy.url}/v1/health"

        def answer() -> int | str:
            try:
                return httpx.get(health, timeout=5).status_code
            except httpx.ConnectError:
                return "refused"

        def becomes(mode: str, expected: int | str) -> None:
            control.write_text(f"{mode}\n")
            deadline = time.monotonic() + 3
            while answer() != expected:
                assert time.monotonic() < deadline, f"{mode}: still {answer()}"
                time.sleep(0.05)

        busy = httpx.get(health, timeout=5)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        becomes("down", "refused")
        becomes("slow", 200)
        started = time.monotonic()
        assert answer() == 200 and time.monotonic() - started >= 0.5
        becomes("none", 200)
        with caplog.at_level("WARNING", logger="sync.fault_proxy"):
            control.write_text("sideways\n")
            time.sleep(0.5)
        assert proxy.mode == "none" and answer() == 200
        assert "'sideways', which is not an HQ fault" in caplog.text

"""The rules every event of each kind keeps, pure: what the till checks before it writes an
event and HQ before it takes one."""

from __future__ import annotations

from dataclasses import dataclass

from pos_loyalty.rules.kinds import KINDS, problem
from pos_loyalty.rules.program import Program

MEMBER = "0123456789ABCDEF"


@dataclass
class Shape:
    kind: str
    points: int
    member_id: str | None = MEMBER
    phone: str | None = None
    amount: int | None = None
    ref_event_id: str | None = None


def test_a_reversal_above_the_limit_needs_its_manager_only_where_the_program_is_known():
    big = Shape("reverse", -300, ref_event_id="e1")
    detail = {"reverses": "earn"}
    assert problem(big, detail, Program()) == (
        "reverses 300 points, above the 200-point limit, without the id of the manager who "
        "approved it"
    )
    assert problem(big, {**detail, "approved_by": "M1"}, Program()) is None
    assert problem(big, detail, None) is None  # a till's own program, unknown to the reader
    assert problem(Shape("reverse", -200, ref_event_id="e1"), detail, Program()) is None


def test_a_cancel_gives_back_and_a_refund_takes_back():
    cancel = Shape("reverse", 150, ref_event_id="e1")
    assert problem(cancel, {"reverses": "redeem"}, Program()) is None
    assert problem(cancel, {"reverses": "earn"}, Program()) == (
        "is a refund of +150 points; a refund's points are never above 0"
    )
    assert problem(Shape("reverse", -150, ref_event_id="e1"), {"reverses": "donate"}, None) == (
        "is a cancellation of -150 points; a cancellation's points are never below 0"
    )
    assert (
        problem(cancel, {"reverses": "enroll"}, None) == "reverses a kind that cannot be reversed"
    )


def test_a_sale_above_the_earn_limit_needs_a_manager():
    sale = Shape("earn", 600, amount=60000)
    assert problem(sale, {}, Program(earn_manager_limit=500)) == (
        "earns 600 points, above the 500-point limit, without the id of the manager who approved it"
    )
    assert problem(sale, {}, Program()) is None  # no limit


def test_an_enrolment_names_its_member_and_a_real_phone():
    assert problem(Shape("enroll", 0, phone="+31612345678"), {}, None) is None
    assert problem(Shape("enroll", 0), {}, None) == "enrols without a member id and a phone"
    assert problem(Shape("enroll", 0, phone="+3161234567"), {}, None) == (
        "names a phone that is not a valid phone number in E.164"
    )
    assert problem(Shape("enroll", 0, phone="0612345678"), {}, None) == (
        "names a phone that is not a valid phone number in E.164"
    )


def test_only_the_kinds_money_changes_hands_in_carry_an_amount():
    assert problem(Shape("redeem", -150, amount=100), {}, None) == (
        "is a redemption with an amount of money, which a redemption never has"
    )
    assert problem(Shape("membership", 0, amount=0), {}, None) is None
    assert "expire" not in KINDS  # HQ's own: it writes those itself

"""Member codes and phone numbers: a misread is rejected, never matched to someone else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_loyalty.errors import BadScan, InvalidPhone
from pos_loyalty.members import (
    ALPHABET,
    display_code,
    mask_phone,
    member_code,
    normalise_phone,
    parse_member_code,
)

ids = st.text(alphabet=ALPHABET, min_size=16, max_size=16)


@given(ids)
def test_code_round_trips_typed_grouped_lower_case_and_with_lookalikes(member_id):
    code = member_code(member_id)
    assert parse_member_code(code) == member_id
    assert parse_member_code(display_code(code).lower()) == member_id
    assert parse_member_code(" " + code.replace("0", "O").replace("1", "I") + "\n") == member_id


@given(ids, st.integers(2, 18), st.sampled_from(ALPHABET))
def test_any_single_mistyped_character_is_rejected(member_id, position, char):
    code = member_code(member_id)
    typo = code[:position] + char + code[position + 1 :]
    if typo != code:
        with pytest.raises(BadScan):
            parse_member_code(typo)


@given(ids, st.integers(2, 17))
def test_any_swap_of_two_neighbours_is_rejected(member_id, position):
    code = member_code(member_id)
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    if swapped != code:
        with pytest.raises(BadScan):
            parse_member_code(swapped)


def test_zero_and_z_swapped_is_caught():
    """The pair Luhn mod 32 cannot see."""
    member_id = "ABCDEFGH0Z234567"
    code = member_code(member_id)
    with pytest.raises(BadScan, match="does not check out"):
        parse_member_code(code.replace("0Z", "Z0"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("https://example.com/promo", "That is not a member code."),
        ("M1ABC", "incomplete or misread"),
        ("M2ABCDEFGH0Z2345670", "unsupported version"),
        ("M1ABCDEFGH0Z23456U7", "incomplete or misread"),
    ],
)
def test_codes_that_are_not_member_codes_say_so(text, message):
    with pytest.raises(BadScan, match=message):
        parse_member_code(text)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("06 1234 5678", "NL", "+31612345678"),
        ("+31 (0)6-12345678", "NL", "+31612345678"),
        ("0031612345678", "NL", "+31612345678"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("0532 123 45 67", "TR", "+905321234567"),
    ],
)
def test_phone_numbers_in_common_local_formats_normalise_to_e164(raw, region, e164):
    assert normalise_phone(raw, region) == e164


@pytest.mark.parametrize(
    "raw", ["", "x", "12", "06 1234 567", "+31 6 1234 56789 0", "9" * 40, "+31 6 1234 5678 ext 5"]
)
def test_invalid_phone_numbers_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalise_phone(raw, "NL")


@pytest.mark.parametrize(
    "raw",
    [
        "٠٦١٢٣٤",
        "０６１２３４５",
        "۰۶۱۲۳۴۵۶۷",
        "06 1234 5",
    ],  # Arabic-Indic, full-width, Persian, ASCII
)
def test_an_invalid_phone_is_never_echoed_whole_in_any_script(raw):
    with pytest.raises(InvalidPhone) as refused:
        normalise_phone(raw, "NL")
    message = refused.value.message
    assert raw not in message and raw[:4] not in message, message
    assert message.startswith("The number ending in ") and message.endswith(".")


def test_a_valid_number_typed_in_another_script_is_read_as_its_digits():
    assert normalise_phone("٠٦١٢٣٤٥٦٧٨", "NL") == normalise_phone("０６１２３４５６７８", "NL")
    assert normalise_phone("٠٦١٢٣٤٥٦٧٨", "NL") == "+31612345678"


@pytest.mark.parametrize("raw", ["0612345abc", "06 CALL 5678", "+31 6 1234 567O"])
def test_letters_in_a_phone_are_refused_not_read_as_keypad_digits(raw):
    with pytest.raises(InvalidPhone, match="has letters in it"):
        normalise_phone(raw, "NL")


def test_masked_phone_shows_only_the_last_three_digits():
    assert mask_phone("+31612345678") == "•••••••••678"

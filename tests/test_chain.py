"""Hash chain v1: the published test vectors, and the encoding checked against an independent
RFC 8785 implementation, so HQ or an auditor can recompute every hash without this code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from pos_loyalty import chain

VECTORS = json.loads((Path(__file__).with_name("chain_vectors.json")).read_text())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_genesis_vector_is_derived_from_the_journal_id():
    g = VECTORS["genesis"]
    assert chain.genesis(g["journal_id"], g["store_id"], g["terminal_id"]) == g["hash"]
    assert sha256(g["canonical"]) == g["hash"]
    other = chain.genesis("another-journal", g["store_id"], g["terminal_id"])
    assert other != g["hash"]  # a reinstalled till starts a chain of its own


@pytest.mark.parametrize("n", range(len(VECTORS["events"])))
def test_each_event_vector_hashes_as_published(n):
    vector = VECTORS["events"][n]
    assert chain.hash_input(vector["fields"]) == vector["canonical"]
    assert chain.event_hash(vector["fields"]) == vector["hash"] == sha256(vector["canonical"])
    stored = chain.canonical(vector["fields"]["detail"])  # as a journal holds it
    assert chain.event_hash(vector["fields"], stored) == vector["hash"]
    # The same bytes from an implementation that is not ours:
    independent = rfc8785.dumps({**vector["fields"], "v": 1}).decode("utf-8")
    assert independent == vector["canonical"]


def test_the_event_vectors_form_a_chain_from_the_genesis():
    prev = VECTORS["genesis"]["hash"]
    for vector in VECTORS["events"]:
        assert vector["fields"]["prev_hash"] == prev
        prev = vector["hash"]


def test_the_version_tag_is_inside_the_hashed_bytes():
    vector = VECTORS["events"][0]
    assert vector["canonical"].endswith(',"v":1}')


@pytest.mark.parametrize("case", VECTORS["refused"], ids=lambda c: c["why"])
def test_values_a_journal_may_not_hold_are_refused(case):
    with pytest.raises(chain.NotCanonical) as refused:
        chain.canonical(case["detail"])
    assert refused.value.exit_status == 2
    assert refused.value.message.endswith(".")


def test_nan_and_infinity_and_odd_keys_are_refused():
    for bad in (float("nan"), float("inf"), {1: "x"}, {"set": {1, 2}}, b"bytes"):
        with pytest.raises(chain.NotCanonical):
            chain.canonical(bad)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-chain.SAFE_INTEGER, chain.SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), max_size=6), inner)
    ),
    max_leaves=20,
)


@given(json_values)
def test_property_our_encoding_is_rfc_8785(value):
    assert chain.canonical(value) == rfc8785.dumps(value).decode("utf-8")


@given(json_values)
def test_property_canonical_text_reads_back_to_the_same_value(value):
    text = chain.canonical(value)
    assert chain.canonical(json.loads(text)) == text


@given(json_values)
def test_property_hqs_quick_check_takes_canonical_text_and_its_value(value):
    text = chain.canonical(value)
    assert chain.parse_canonical(text) == json.loads(text)


CHANGES = ["spaces", "unsorted", "escaped", "ascii", "float", "exponent", "huge", "twice", "-0"]


@given(json_values, st.sampled_from(CHANGES))
def test_property_hqs_quick_check_refuses_what_is_not_canonical(value, change):
    """Text the full canonical check refuses, the quick one refuses too."""
    tight = {"separators": (",", ":")}
    other = {
        "spaces": json.dumps(value),
        "unsorted": json.dumps({"z": 1, "a": value}, **tight),
        "escaped": json.dumps({"k": value, "é": "é"}, **tight),
        "ascii": json.dumps({"k": value}, ensure_ascii=True, sort_keys=True, **tight),
        "float": json.dumps({"a": value, "b": 1.5}, **tight),
        "exponent": '{"a":' + json.dumps(value, sort_keys=True, **tight) + ',"b":1E5}',
        "huge": json.dumps({"a": value, "b": 2**60}, **tight),
        "twice": '{"a":' + json.dumps(value, sort_keys=True, **tight) + ',"a":1}',
        "-0": '{"a":' + json.dumps(value, sort_keys=True, **tight) + ',"b":-0}',
    }[change]
    try:
        fully = chain.canonical(json.loads(other)) == other
    except chain.NotCanonical:
        fully = False
    if fully:
        assert chain.parse_canonical(other) == json.loads(other)
    else:
        with pytest.raises(chain.NotCanonical):
            chain.parse_canonical(other)


def test_hqs_quick_check_orders_keys_beyond_the_bmp_as_rfc_8785_does():
    value = {"\ue000": 1, "\U0001f600": 2}  # UTF-16 puts the emoji (a surrogate pair) first
    text = chain.canonical(value)
    assert text.index("\U0001f600") < text.index("\ue000")
    assert chain.parse_canonical(text) == value
    by_code_point = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    with pytest.raises(chain.NotCanonical):
        chain.parse_canonical(by_code_point)


scalars = (
    st.none()
    | st.integers(-chain.SAFE_INTEGER, chain.SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
)


@given(st.fixed_dictionaries({name: scalars for name in chain.FIELDS}), json_values)
def test_property_the_quick_hash_is_the_hash_of_the_canonical_envelope(fields, detail):
    """What the till and HQ hash (msgspec's encoding) is the published envelope's SHA-256."""
    text = chain.canonical(detail)
    fields = {**fields, "detail": detail}
    assert chain.event_hash(fields, text) == sha256(chain.hash_input(fields, text))
    assert chain.hash_input(fields, text) == rfc8785.dumps({**fields, "v": 1}).decode("utf-8")


def test_a_lone_surrogate_is_refused_on_the_quick_path_too():
    fields = {**VECTORS["events"][0]["fields"], "staff_id": "\ud800"}
    with pytest.raises(chain.NotCanonical):
        chain.event_hash(fields, chain.canonical(fields["detail"]))

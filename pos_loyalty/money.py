"""Money as integer minor units with an ISO 4217 currency code; no floats anywhere."""

from __future__ import annotations

import math
import re
from fractions import Fraction

from .errors import BadAmount

# ISO 4217 minor-unit exponents that are not 2; every other known code uses 2.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0, "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
# Active ISO 4217 codes (2024), so a typo such as EUX is refused rather than given 2 decimals.
ISO_4217 = frozenset(
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN "
    "BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY "
    "KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP "
    "MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR "
    "RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT "
    "TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW "
    "ZWG".split()
)
_AMOUNT = re.compile(r"^([0-9]+)(?:[.,]([0-9]*))?$")  # ASCII digits: what a till's keys type
MAX_MINOR = 10**12  # a sale above ten thousand million units is a typo, not a sale


def is_currency(code: str) -> bool:
    return code in ISO_4217


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def parse_amount(text: str, currency: str, *, allow_zero: bool = False) -> int:
    """Minor units for an amount typed as ``12.40`` or ``12,40``; BadAmount otherwise."""
    raw = str(text).strip()
    match = _AMOUNT.match(raw)
    if not match:
        if raw.startswith("-"):
            raise BadAmount(f"The amount {raw} is negative; enter a positive amount.")
        raise BadAmount(f"“{raw[:20]}” is not an amount; enter it like 12.40.")
    whole, frac = match.group(1), match.group(2) or ""
    places = exponent(currency)
    if len(frac) > places:
        unit = "no decimals" if places == 0 else f"only {places} decimals"
        raise BadAmount(f"The amount {raw} has too many decimals: {currency} has {unit}.")
    minor = int(whole) * 10**places + int(frac.ljust(places, "0") or 0)
    if minor == 0 and not allow_zero:
        raise BadAmount("The amount must be more than zero.")
    if minor > MAX_MINOR:
        raise BadAmount(f"The amount {raw} is too large.")
    return minor


def check_minor(amount: object, what: str = "The amount") -> int:
    """An amount handed in by code (the Python API), held to what parse_amount allows."""
    if type(amount) is not int:  # not bool, not float: money is integer minor units
        raise BadAmount(f"{what} must be a whole number of minor units, not {amount!r}.")
    if not 0 < amount <= MAX_MINOR:
        raise BadAmount(f"{what} must be more than zero and at most {MAX_MINOR} minor units.")
    return amount


def points_worth(points: int, point_value: str, currency: str) -> int:
    """Minor units ``points`` are worth at ``point_value`` (money per point, which may be a
    fraction of a cent, e.g. "0.005"), rounded half up once, at the end."""
    whole, _, frac = point_value.strip().partition(".")
    per_point = Fraction(int(whole + frac), 10 ** len(frac)) * 10 ** exponent(currency)
    return math.floor(points * per_point + Fraction(1, 2))


def check_point_value(text: str) -> None:
    if not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,6})?", text.strip()) or not float(text):
        raise BadAmount(f"“{text}” is not a money value per point like 0.01 or 0.005.")


def format_amount(minor: int, currency: str) -> str:
    """``1240, "EUR"`` → ``12.40 EUR``."""
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    digits = f"{whole}.{frac:0{places}d}" if places else str(whole)
    return f"{sign}{digits} {currency}"

"""Printer profiles from python-escpos's capability database, and the code page per locale.

Capabilities come from the profile, never from ``if model == ...``: paper width in dots, the
columns of Font A, native QR, and the code pages the printer has.
"""

from __future__ import annotations

from dataclasses import dataclass

from pos_loyalty.errors import ConfigError

# The code page that carries a locale's letters (and € where the language needs it).
_LOCALE_CODE_PAGES = {
    "tr": "CP857",
    "ru": "CP866",
    "uk": "CP866",
    "bg": "CP866",
    "el": "CP737",
    "pl": "CP852",
    "cs": "CP852",
    "sk": "CP852",
    "hu": "CP852",
    "hr": "CP852",
    "sl": "CP852",
    "ro": "CP852",
    "en_US": "CP437",
    "en_CA": "CP437",
}
_DEFAULT_CODE_PAGE = "CP858"  # Western European with €


@dataclass(frozen=True)
class Profile:
    name: str
    dots: int  # printable width
    columns: int  # Font A characters per line
    native_qr: bool
    code_pages: dict[str, int]  # name → ESC t number

    @property
    def module_dots(self) -> int:
        """QR module size: at least 3 dots, larger where the paper allows."""
        return 6 if self.dots >= 512 else 4


def load_profile(name: str) -> Profile:
    from escpos import capabilities  # loaded only when a printer is configured

    try:
        data = capabilities.get_profile(name).profile_data
    except (capabilities.NotSupported, KeyError):
        raise ConfigError(
            f"printer.profile: “{name}” is not in python-escpos's profile list "
            "(e.g. TM-T20II for 80 mm, POS-5890 for 58 mm)."
        ) from None
    dots = data.get("media", {}).get("width", {}).get("pixels")
    if not isinstance(dots, int):
        raise ConfigError(
            f"printer.profile: “{name}” does not say its paper width in dots; pick a profile "
            "for your model (e.g. TM-T20II or POS-5890) so slips are not misprinted."
        )
    columns = int(data["fonts"]["0"]["columns"])
    pages = {page: int(n) for n, page in data.get("codePages", {}).items() if page != "Unknown"}
    return Profile(name, dots, columns, bool(data["features"].get("qrCode")), pages)


def code_page_for(locale: str, profile: Profile) -> tuple[str, int]:
    """The code page pinned for the store's locale: its name and ESC t number."""
    language = locale.split("_")[0]
    wanted = (
        _LOCALE_CODE_PAGES.get(locale) or _LOCALE_CODE_PAGES.get(language) or _DEFAULT_CODE_PAGE
    )
    for name in (wanted, "CP858", "CP850", "CP437"):
        if name in profile.code_pages:
            return name, profile.code_pages[name]
    return "CP437", 0  # every ESC/POS printer has page 0

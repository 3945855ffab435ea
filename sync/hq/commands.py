"""``pos-loyalty hq ...``: run HQ, provision and revoke terminals, list what needs review."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

from pos_loyalty import config as config_mod
from pos_loyalty.errors import ConfigError
from pos_loyalty.rules.program import Program

from .db import connect
from .store import HQStore


def load_program(path: str | None) -> Program:
    """The chain's loyalty program: the ``[program]`` table of a TOML file in the till's
    format (the example program without one), checked as a till checks its own."""
    source = Path(path) if path else config_mod.EXAMPLE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror}).") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source}: is not valid TOML ({exc}).") from None
    currency = str(data.get("store", {}).get("currency", "EUR"))
    try:
        program = msgspec.convert(data.get("program", {}), Program)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: program: {exc}.") from None
    problem = next(config_mod.check_program(program, currency), None)
    if problem:
        raise ConfigError(f"{source}: {problem[0]}: {problem[1]}.")
    return program


def open_store(db_url: str, program_path: str | None = None) -> HQStore:
    return HQStore(connect(db_url), load_program(program_path))


def serve(db_url: str, host: str, port: int, program_path: str | None) -> None:
    import uvicorn

    from .app import create_app

    store = open_store(db_url, program_path)
    try:
        uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
    finally:
        store.db.close()

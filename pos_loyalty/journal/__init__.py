"""The till's journal: one SQLite file, append-only events in a hash chain, and the state
around them (members, HQ's word, account checkpoints, print queue, staff, request ids, HQ's
program).

``Journal`` is the unit of work; each store (``journal.events``, ``.members``, ``.prints``,
``.staff``, ``.requests``, ``.program``) owns its tables and returns typed values.
"""

from .events import COLUMNS as EVENT_COLUMNS
from .events import Event, KindCount, NewEvent, Outbox
from .members import Checkpoint, HQWord, MemberRecord, phone_key
from .print_queue import DeviceState, PrintJob, QueueSummary
from .program import StoredProgram
from .schema import SCHEMA_VERSION
from .staff import PinAttempts, StaffRecord
from .unit import Journal
from .verify import ChainReport, verify_chain

__all__ = [
    "EVENT_COLUMNS",
    "SCHEMA_VERSION",
    "ChainReport",
    "Checkpoint",
    "DeviceState",
    "Event",
    "HQWord",
    "Journal",
    "KindCount",
    "MemberRecord",
    "NewEvent",
    "Outbox",
    "PinAttempts",
    "PrintJob",
    "QueueSummary",
    "StaffRecord",
    "StoredProgram",
    "phone_key",
    "verify_chain",
]

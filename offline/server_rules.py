"""What the server's ``welcome`` says to apply offline: staff directory, SLA table, bell period.

An offline terminal predicts every edit with the shared mutators; to predict what the server
will decide it needs the server's own inputs: the staff directory (an assignee that is not an
active account is refused), the hotel's SLA table (a deadline predicted offline is the one the
server then confirms) and how often an unacknowledged alert rings again. The server sends them
in ``welcome`` (and the directory again in a ``staff`` frame after any account change); they
are kept in the replica's ``meta``, so an offline start after a restart still has them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping

from pydantic import TypeAdapter, ValidationError

from protocol import DEFAULT_SLA, SlaTable, StaffDirectory, StaffEntry
from protocol.alerts import DEFAULT_REPEAT_SECONDS
from protocol.frames import Welcome

log = logging.getLogger(__name__)

STAFF_KEY = "staff"
SLA_KEY = "sla"
REPEAT_KEY = "alert_repeat_seconds"
"""Keys of the replica's ``meta`` these are kept under (JSON text, ``null`` when unknown)."""

_ENTRIES = TypeAdapter(list[StaffEntry])


@dataclasses.dataclass(frozen=True, eq=False)
class ServerRules:
    """The server's inputs to the rule book, as last seen (defaults before any ``welcome``)."""

    staff: StaffDirectory | None = None
    """The directory assignees are checked against; None: never seen (nothing is checked)."""
    sla: SlaTable = dataclasses.field(default_factory=lambda: DEFAULT_SLA)
    alert_repeat_seconds: float = DEFAULT_REPEAT_SECONDS

    @classmethod
    def from_welcome(cls, welcome: Welcome) -> ServerRules:
        """What a ``welcome`` says; a field it lacks (an older server) is the default."""
        return cls(
            staff=None if welcome.staff is None else StaffDirectory(welcome.staff),
            sla=welcome.sla if welcome.sla is not None else DEFAULT_SLA,
            alert_repeat_seconds=(
                welcome.alert_repeat_seconds
                if welcome.alert_repeat_seconds is not None
                else DEFAULT_REPEAT_SECONDS
            ),
        )

    @classmethod
    def from_meta(cls, meta: Mapping[str, str]) -> ServerRules:
        """What the replica kept; a value that does not read (a damaged file) is the default."""
        staff: StaffDirectory | None = None
        sla = DEFAULT_SLA
        repeat = DEFAULT_REPEAT_SECONDS
        try:
            if (text := meta.get(STAFF_KEY)) and text != "null":
                staff = StaffDirectory(_ENTRIES.validate_json(text))
            if (text := meta.get(SLA_KEY)) and text != "null":
                sla = SlaTable.model_validate_json(text)
            if (text := meta.get(REPEAT_KEY)) and text != "null":
                repeat = float(json.loads(text))
        except (ValidationError, ValueError, TypeError) as exc:
            log.warning("the replica's copy of the server's rules does not read: %s", exc)
        return cls(staff=staff, sla=sla, alert_repeat_seconds=repeat)

    def with_staff(self, entries: list[StaffEntry]) -> ServerRules:
        """These rules with the directory of a ``staff`` frame."""
        return dataclasses.replace(self, staff=StaffDirectory(entries))

    def to_meta(self) -> dict[str, str]:
        """The ``meta`` entries that keep these rules in the replica."""
        staff = (
            "null"
            if self.staff is None
            else _ENTRIES.dump_json(list(self.staff.entries)).decode("utf-8")
        )
        return {
            STAFF_KEY: staff,
            SLA_KEY: self.sla.model_dump_json(),
            REPEAT_KEY: json.dumps(self.alert_repeat_seconds),
        }

    def same_as(self, other: ServerRules) -> bool:
        """True when ``other`` would predict exactly what these rules predict."""
        return self.to_meta() == other.to_meta()

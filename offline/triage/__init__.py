"""The triage assistant: suggested category and priority, and likely duplicates, for a new
request (see ``offline.triage.service`` for how it follows the engine)."""

from offline.triage.assistant import Suggestion, TriageModel
from offline.triage.service import Triage

__all__ = ["Suggestion", "Triage", "TriageModel"]

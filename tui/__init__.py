"""frontdesk tui layer."""

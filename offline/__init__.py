"""frontdesk offline layer."""

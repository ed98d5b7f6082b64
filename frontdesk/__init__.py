"""frontdesk frontdesk layer."""

"""frontdesk backend layer."""

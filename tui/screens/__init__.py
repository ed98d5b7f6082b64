"""Screens of the frontdesk TUI."""

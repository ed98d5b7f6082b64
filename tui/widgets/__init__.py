"""Widgets of the frontdesk TUI."""

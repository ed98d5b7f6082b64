"""The `frontdesk` command line: the one place that wires backend, offline engine and TUI."""

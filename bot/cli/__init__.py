"""The ``briefbot`` command line: argument parsing, exit codes and terminal output."""

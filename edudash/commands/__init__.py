"""Subcommands of `edudash`, one module each (see edudash.cli.COMMAND_MODULES)."""

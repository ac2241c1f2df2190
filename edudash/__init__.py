"""The `edudash` command line: one subcommand module per task, all sharing --db."""

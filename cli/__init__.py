"""The ``latentspace`` command line: each module registers one group of subcommands."""

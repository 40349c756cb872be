"""The command line: ``paitui`` starts the UI; sub-commands serve scripts and SSH."""

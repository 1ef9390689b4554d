"""`python -m rlpipe` runs the command line."""

from rlpipe.cli import run

run()

"""The rlpipe commands, one module per command or command group; rlpipe.cli registers them."""

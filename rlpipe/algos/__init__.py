"""Algorithms, one file each, and the registry (rlpipe.algos.registry) that names them."""

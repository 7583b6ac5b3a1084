"""The offline RL evaluators, one module per algorithm, sharing :mod:`stitchkit.algos.common`."""

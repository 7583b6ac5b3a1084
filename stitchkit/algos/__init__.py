"""The offline RL learners, one module per algorithm, sharing :mod:`stitchkit.algos.common`."""

"""Stitching methods that generate new trajectories from a dataset; one module per method."""

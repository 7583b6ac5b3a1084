"""Offline datasets: building them (maze, locomotion), holding them in memory, sampling and normalizing them."""

"""Reporting: a run's results (the JSON contract), compare's comparison and verdict,
the plots, and profile's measurement and split of a step's time."""

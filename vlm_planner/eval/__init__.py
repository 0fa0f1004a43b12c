"""Offline evaluation: run the planner over recorded decision points and score it."""

"""Evaluation suites for `vidrag eval` (see README, "Evaluating search")."""

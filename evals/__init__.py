"""Evaluation suites for `python -m rag eval` (see README, "Evaluating search")."""

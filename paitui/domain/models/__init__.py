"""Models: store records and rules, model types, fit estimates, choices, suggestions, views."""

"""From an app and this box to a launch plan: variant fit, the planner, compose/run exports."""

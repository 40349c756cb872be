"""What the engine reports: containers, pull progress, and its errors in a user's words."""

"""The live state of each app (status reducer) and its quick-launch links."""

"""Running commands on other boxes over SSH (the hosts paitui follows)."""

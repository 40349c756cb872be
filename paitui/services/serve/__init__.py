"""paitui serve: the token and origin guard and the web server around textual-serve."""

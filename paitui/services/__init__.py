"""Services do the I/O (udev, Docker, HTTP, the Hub). They never import Textual."""

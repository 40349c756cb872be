"""The catalog's schema, value checks, image-tag reading and companion apps."""

"""Reading catalog.yml and catalog.d safely into a validated Catalog."""

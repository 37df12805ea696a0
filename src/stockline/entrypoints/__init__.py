"""Ways in: HTTP (REST), CLI."""

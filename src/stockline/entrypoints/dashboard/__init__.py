"""The operations dashboard: pages for managers and store staff, served at /dashboard."""

"""Gateway: the REST API for the frontend, its docs and the dashboard."""

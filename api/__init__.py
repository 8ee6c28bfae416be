"""carecenter's web layer: the JSON API under ``/api``, the pages, authentication and the CLI."""

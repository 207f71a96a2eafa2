"""The JSON API under /api/v1: ``routes`` assembles the endpoint modules, ``common`` holds what they share."""

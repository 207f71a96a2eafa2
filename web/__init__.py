"""The Flask service: app factory, blueprints, templates and the ``shebao`` command line."""

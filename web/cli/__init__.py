"""The ``shebao`` command line: ``main`` is the group, the other modules add their commands to it."""

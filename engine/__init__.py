"""The generic workflow engine: definitions, shared state machines, persistence, timers.

It knows nothing of cards, insurance or Flask; the domain registers guards and actions by name.
"""

"""The domain: guards, actions and rules that the process definitions name."""

"""Services: one module per outside system, async API, no Textual."""

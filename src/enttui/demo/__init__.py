"""The embedded demo world: a deterministic generated school."""

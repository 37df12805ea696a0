"""Use cases: async functions over a unit of work. No web framework, no SQL."""

"""The scheduler: a pipeline of async stages around a pure policy core (DESIGN section 2)."""

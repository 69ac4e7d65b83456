class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names key, value and source."""

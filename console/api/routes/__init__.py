"""One module per API resource, each exporting ``router``."""

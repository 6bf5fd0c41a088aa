"""The only code that writes SQL or touches the data directory."""

"""The run directory: its paths and step files, the writer, atomic writes, liveness and the index (imports only arc)."""

"""The Textual console. It draws engine events and knows nothing about torch."""

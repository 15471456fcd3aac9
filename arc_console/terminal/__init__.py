"""What a terminal needs, drawn by Textual or not: text made safe to show in it, the signals that stop a
run, a terminal that hung up. Imports nothing of ours and no torch, so every layer may use it."""

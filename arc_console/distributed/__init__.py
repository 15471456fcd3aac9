"""Data-parallel training with torch.distributed: one process per GPU (or CPU process with gloo),
started by torchrun or `arc-console train --nproc N`.

ranks.py: the process group and the collectives the trainer needs; draws.py: a step's problem
slots shared out among the ranks and gathered back; control_sync.py: rank 0's p / s / q reaching
every rank; launch.py: the --nproc shortcut; roles.py: what each rank prints and writes; preflight.py: the
checks `train` makes before importing torch.
"""

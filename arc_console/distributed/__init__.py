"""Data-parallel training with torch.distributed: one process per GPU (or CPU process with gloo),
started by torchrun or `arc-console train --nproc N`.

ranks.py: the process group and the collectives the trainer needs; draws.py: a step's problem
slots shared out among the ranks and gathered back; control_sync.py: rank 0's p / s / q reaching
every rank; roles.py: what each rank prints and writes; preflight.py: the checks `train` makes before
importing torch. The commands that start ranks (--nproc) and run one are cli/torchrun.py and cli/rank_train.py.
"""

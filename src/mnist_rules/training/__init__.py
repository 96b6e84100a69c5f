"""Training: the update rules and the epoch plan, the one loop, its configuration, the
loss ledger, checkpoints, interrupts and torchrun."""

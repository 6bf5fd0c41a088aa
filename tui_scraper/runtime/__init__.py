"""Running sessions: the lease, the claim loop, checkpoints, control and progress publishing."""

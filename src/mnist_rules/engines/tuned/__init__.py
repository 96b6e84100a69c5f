"""The tuned engine (engine.py) and what it is built from: the MLP's written-out
backward (mlp_steps.py), its inputs (input_sources.py), CUDA graphs and torch.compile
(capture.py), and per-sample SGD a block at a time, behind one contract
(sample_steps.py): eager (blocked_sample_sgd.py), or compiled in the kernel step mode
(deferred_sample_sgd.py, shared by numba_sample_sgd.py + numba_sample_steps.py on the
CPU and triton_sample_sgd.py on CUDA, its kernels in triton_kernels.py, run as two
launches an update by triton_sample_steps.py or one a block by
triton_persistent_steps.py)."""

"""compare's and sweep's grid: which trials a configuration asks for (each arm, a rule
or a size, at each learning rate and seed), the protocol that picks each arm's learning
rate, and Optuna's study that holds the trials, resumes them and shares them between
processes."""

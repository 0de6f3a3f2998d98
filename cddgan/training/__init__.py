"""The shared training loop of every GAN method.

- `loop`: `Trainer`, one (run, seed) from start (or checkpoint) to model.pt and losses.csv;
- `group`: `GroupTrainer`, several seeds of one run in one process;
- `step`: `TrainStep` and `StepGroup`, one iteration with its optimisers, schedule and precision;
- `graphs`: how an iteration is captured once as a CUDA graph and replayed (a leaf: it knows nothing of
  steps, only the callables it is handed).

The model file the loop writes is `cddgan.modelfile`'s.
"""

"""The shared training loop of every GAN method.

- `loop`: `Trainer`, one (run, seed) from start (or checkpoint) to model.pt, losses.csv, validation.csv
  and run.json;
- `group`: `GroupTrainer`, several seeds of one run in one process, each in its own random streams;
- `step`: `TrainStep` and `StepGroup`, one iteration with its optimisers, schedule and precision;
- `graphs`: how an iteration is captured once as a CUDA graph and replayed (a leaf: it knows nothing of
  steps, only the callables it is handed);
- `validation`: the val split's fixed subset scored while training (the curve, the best weights);
- `rng`: a run's global random streams, saved, swapped in and restored.

The model file the loop writes is `cddgan.modelfile`'s; the machine record is `cddgan.machine`'s.
"""

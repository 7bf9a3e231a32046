"""Background work: the job queue, its worker, the scheduler and its watchdogs."""

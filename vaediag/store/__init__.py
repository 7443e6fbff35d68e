"""The directories vaediag owns: a run (:mod:`~vaediag.store.rundir`: :class:`Run`, the only code that knows RUN_DIR's
file names), its evaluation tables (:mod:`~vaediag.store.evaluation`), the documented ranges checked when they are
read (:mod:`~vaediag.store.ranges`) and a sweep (:mod:`~vaediag.store.sweepdir`: :class:`Sweep`, the only code that
knows SWEEP_DIR's names)."""

"""The directories vaediag owns: a run (:mod:`.rundir`: :class:`Run`, the only code that knows RUN_DIR's file names),
its evaluation tables (:mod:`.evaluation`), the documented ranges checked when they are read (:mod:`.ranges`) and a
sweep (:mod:`.sweepdir`: :class:`Sweep`, the only code that knows SWEEP_DIR's names)."""

"""How numbers become verdicts, below both the report and the claims: thresholds and trajectory rules
(:mod:`.rules`), number formats (:mod:`.formats`), a run's intervals (:mod:`.intervals`), the collapse verdict
(:mod:`.verdict`), which runs are replicates (:mod:`.grouping`) and statistics over seeds (:mod:`.replicates`), and the
claim kinds' decision rules (:mod:`.claim_rules`). Pure: numbers in, answers and words out; nothing is written."""

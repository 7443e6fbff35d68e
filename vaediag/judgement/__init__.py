"""How numbers become verdicts, below both the report and the claims: thresholds and trajectory rules
(:mod:`~vaediag.judgement.rules`), number formats (:mod:`~vaediag.judgement.formats`), a run's intervals
(:mod:`~vaediag.judgement.intervals`), the collapse verdict (:mod:`~vaediag.judgement.verdict`), which runs are
replicates (:mod:`~vaediag.judgement.grouping`) and statistics over seeds (:mod:`~vaediag.judgement.replicates`),
and the claim kinds' decision rules (:mod:`~vaediag.judgement.claim_rules`). Pure: numbers in, answers and words
out; nothing is written."""

"""File primitives every writer uses: atomic writes (:mod:`~vaediag.files.atomic`), reading CSV / JSON / npz with
one-line errors (:mod:`~vaediag.files.fileio`), publishing a set of files under a manifest
(:mod:`~vaediag.files.publish`) and the one-writer lock of a directory (:mod:`~vaediag.files.lock`). They know no
run and no dataset."""

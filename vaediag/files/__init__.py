"""File primitives every writer uses: atomic writes (:mod:`.atomic`), reading CSV / JSON / npz with one-line errors
(:mod:`.fileio`), publishing a set of files under a manifest (:mod:`.publish`) and the one-writer lock of a
directory (:mod:`.lock`). They know no run and no dataset."""

"""The datasets: provisioning and loading (:mod:`.data`, :mod:`.deb`), the classes and their names (:mod:`.classes`)
and the shipped classifiers that judge generated images (:mod:`.classifier`, weights in ``weights/``)."""

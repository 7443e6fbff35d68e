"""The datasets: the registry (:mod:`~vaediag.datasets.registry`: one ``DatasetSpec`` per dataset), offline
provisioning (:mod:`~vaediag.datasets.provision` with the routes :mod:`~vaediag.datasets.mnist_wheel` and
:mod:`~vaediag.datasets.fashion_deb`, shared steps in :mod:`~vaediag.datasets.install`, ``.deb`` reading in
:mod:`~vaediag.datasets.deb`), loading (:mod:`~vaediag.datasets.data`), the classes and their names
(:mod:`~vaediag.datasets.classes`) and the shipped classifiers that judge generated images
(:mod:`~vaediag.datasets.classifier`, weights in ``weights/``)."""

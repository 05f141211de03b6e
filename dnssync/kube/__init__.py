"""dnssync's Kubernetes edge: everything that talks to the API server.

``client`` (configuration), ``resources`` (the table of kinds), ``informer``
(list + watch caches), ``leader`` (Lease election), ``events`` (the Event
recorder) and ``translate`` (the one translation of API failures into
:mod:`dnssync.errors`).  Nothing outside this package imports
kubernetes-asyncio; ``app`` builds these parts and hands them out.
"""

from dnssync.kube import lazy

# Before any module of this package imports kubernetes-asyncio: see lazy.py.
lazy.install()

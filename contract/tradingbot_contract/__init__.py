"""What the bot and the operator agree on, written once: the version, the environment variables, the pod
(port, probe paths, mounted paths, user, labels) and the ``/status`` document; and the retry schedule
both use. Standard library only: both images install it, neither pulls the other's dependencies.
"""

__version__ = "0.1.0"

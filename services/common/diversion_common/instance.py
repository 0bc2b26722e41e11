"""Which run of the services answers: `diversion-link serve` names each run with a random id.

serve sets the variable for the processes it starts; their /health answers it back in the
header, so serve says "ready" only when its own processes answer, never because another
instance already listens on the same port.
"""

INSTANCE_VARIABLE = "DIVERSION_INSTANCE_ID"
INSTANCE_HEADER = "X-Instance-Id"

"""verify: the runtime's own word on a wheel (see :mod:`.run`)."""

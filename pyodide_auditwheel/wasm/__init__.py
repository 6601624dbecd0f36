"""The wasm decoder: sections and LEB128 (:mod:`.sections`), the ``dylink.0`` section and its
exact re-encoding (:mod:`.dylink`), debug sections dropped from a stream (:mod:`.strip`).
It knows the format only, not what any runtime makes of it."""

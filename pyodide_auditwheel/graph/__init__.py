"""The dependency graph: where the build's libraries are (:mod:`.discovery`), the search
path and the search (:mod:`.libsearch`), and each module's NEEDED resolved with a
release's own loader semantics, on the wheel's files where the runtime installs them
(:mod:`.analysis`)."""

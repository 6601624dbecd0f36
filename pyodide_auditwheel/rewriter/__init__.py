"""The wheel rewriter: the plan that decides (:mod:`.plan`, :mod:`.sbom`), the one streaming writer that
applies it (:mod:`.apply`, with :mod:`.ahead` and :mod:`.malloc`), one wheel's request and
result (:mod:`.single`), several wheels all or nothing (:mod:`.wheelhouse`) and the
processes that repair them side by side (:mod:`.workers`)."""

"""The wheel as files: its name and tags (:mod:`.names`), the three input shapes as one tree
(:mod:`.inputs`), RECORD (:mod:`.record`), the zip reader and writer (:mod:`.zipio`) and
output that appears whole or not at all (:mod:`.atomic`)."""

"""Stratum spread over worker processes: the node accepts miners' connections and hands each to a worker
process (:mod:`.pool`), which serves it with the whole Stratum server on work the node sends it
(:mod:`.child`, :mod:`.relayed`); shares and blocks come back to the node to be taken (:mod:`.messages`)."""

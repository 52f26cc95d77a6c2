"""Read-only views of the node's parts as the API's documents (plain JSON-ready dicts): the sharechain
as it grows (:mod:`.chain_view`), statistics, payouts, found blocks, miners and health
(:mod:`.node_views`). They read; they never change a part.
"""

"""Statistics that survive a restart: hash rate from share work, share counts by outcome and reason,
the current effort, per worker and per address. Pure (:mod:`.series`, :mod:`.collector`,
:mod:`.composition`: time is passed in) with one SQLite adapter (:mod:`.store`) and the event
listener the composition root subscribes (:mod:`.listener`).
"""

"""The operator tools, on top of every other layer: the ``qcexec`` command (submit, watch,
topics, replay, rebuild-view) and the log reading and writing they share."""

"""Where events go: one sink per module, all with the :class:`~pipelines.sinks.base.Sink`
interface."""

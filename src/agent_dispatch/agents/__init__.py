"""Agent adapters: one per agent CLI, all behind the :class:`~agent_dispatch.agents.base.Adapter` protocol."""

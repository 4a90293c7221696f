"""Planners: implementations of the `Planner` port (offline.OfflinePlanner, the embedded default;
openai_planner.OpenAIPlanner, a chat model)."""

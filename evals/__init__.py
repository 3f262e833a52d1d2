"""CleverTap tasks for evaluating agents on the sandbox: tasks.py (prompts and graders), reference.py (a scripted
agent that solves each through the real server), inspect_task.py (the suite as an inspect-ai Task).
docs/evaluating-agents.md."""
